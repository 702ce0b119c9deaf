//! Command-line definitions (clap). Every command takes `--config PATH`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "selfprov",
    version,
    about = "Self-provisioning IVR for SIP phones: service and admin CLI",
    after_help = "The administrative commands (template, profile, user, device, settings, import, \
export, audit, admin, token) are requests of the HTTP API: with --url to a running service (as \
the token's owner, `api:<account>` in the audit; a phone is told of a release, move, replace or \
assign at once), else to the same API in this process on the configured database (as the OS \
user, `cli:<user>`; phones are not told). status and registrations ask the service at --url, \
else the one this configuration runs. Local only, --url does not apply: serve, check-config, \
hash-secret, demo, prompts, phone, config, and `device autoregister`."
)]
pub struct Cli {
    /// Configuration file (not read by the administrative commands with --url).
    #[arg(
        long,
        short = 'c',
        global = true,
        default_value = "config/selfprov.toml",
        env = "SELFPROV_CONFIG"
    )]
    pub config: PathBuf,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the administrative commands send their requests.
#[derive(Args, Debug, Clone, Default)]
pub struct RemoteArgs {
    /// A running service's admin listener, e.g. `http://127.0.0.1:8080`: the administrative
    /// commands go to its API instead of the database file.
    #[arg(long, global = true, env = "SELFPROV_URL")]
    pub url: Option<String>,
    /// The API token for --url (visible in the process list and shell history: prefer
    /// --token-file or SELFPROV_TOKEN).
    #[arg(long, global = true, env = "SELFPROV_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the API token for --url (taken before --token).
    #[arg(long, global = true, env = "SELFPROV_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// For an https:// --url: the certificate authorities (PEM) that may have signed the
    /// service's certificate; default: the system's (/etc/ssl/certs/ca-certificates.crt).
    #[arg(long, global = true, env = "SELFPROV_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the self-provisioning IVR service (SIP, RTP, built-in registrar, admin HTTP).
    Serve,
    /// Validate the configuration file; exit 0 when it is valid, 2 with every error otherwise.
    CheckConfig,
    /// Print `Ready`, or `Not ready:` and what is off. Exit 0 when ready, 1 otherwise.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Phones registered at the running service's built-in registrar: device, DN, contact,
    /// source address, time left, how the phone proved who it is. Exit 1 when no service answers.
    Registrations {
        #[arg(long)]
        json: bool,
    },
    /// Hash a secret (the authentication code) for the config file; reads it from stdin.
    HashSecret,
    /// Demo data set (local only: the database file).
    #[command(subcommand)]
    Demo(DemoCmd),
    /// Universal device and line templates.
    #[command(subcommand)]
    Template(TemplateCmd),
    /// User profiles.
    #[command(subcommand)]
    Profile(Crud<ProfileArgs>),
    /// End users.
    #[command(subcommand)]
    User(UserCmd),
    /// Devices (phones).
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Bulk import.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Bulk export.
    #[command(subcommand)]
    Export(ExportCmd),
    /// Prompt files.
    #[command(subcommand)]
    Prompts(PromptsCmd),
    /// A built-in test phone: fetch its configuration file like a brand-new phone (its line and
    /// digest credentials), register, dial the route point, answer the IVR with DTMF from
    /// --digits and print what happened. Exit 0 when the phone got provisioned, 3 when the call
    /// ended otherwise, 1 on errors.
    Phone(PhoneArgs),
    /// The audit log, newest first: claims (with their outcome codes) and administrative
    /// changes (who, what, before and after).
    Audit(AuditArgs),
    /// Phones' configuration files: what a device receives, and checking the templates (local
    /// only: the database file and the template files).
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Self-provisioning and auto-registration settings changed at run time (they override the
    /// configuration file; a running service applies them within seconds, without a restart).
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Administrator accounts of the HTTP API and console.
    #[command(subcommand)]
    Admin(AccountCmd),
    /// API tokens (shown once when made; stored hashed).
    #[command(subcommand)]
    Token(TokenCmd),
    /// Activation codes: a phone prepared for a user, who types the code instead of ID and PIN
    /// (shown once when issued; stored hashed).
    #[command(subcommand)]
    Activation(ActivationCmd),
}

#[derive(Subcommand, Debug)]
pub enum ActivationCmd {
    /// Issue a code for a user and a phone (--device) or a model (--model); print it once.
    Issue {
        user_id: String,
        /// The phone's device name, e.g. SEP001122334455.
        #[arg(long, conflicts_with = "model", required_unless_present = "model")]
        device: Option<String>,
        /// A model, e.g. "Cisco 8845": the first phone of this model that uses the code.
        #[arg(long)]
        model: Option<String>,
        /// How long it lasts, e.g. `2d`, `12h` (default: the configured lifetime, 7 days).
        #[arg(long)]
        expires: Option<String>,
        /// Also write the code as a QR code image (SVG) to this file.
        #[arg(long)]
        qr: Option<std::path::PathBuf>,
        /// Print the code and its details as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A user's codes and their state (never the codes).
    List {
        user_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an unused code (by its id): it stops working at once.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// Create an account; its password (12 to 256 characters) is read from stdin.
    Create {
        name: String,
        /// administrator, helpdesk or read-only.
        #[arg(long)]
        role: String,
    },
    /// The accounts, their roles and lockout state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A new password, read from stdin (also clears a lockout).
    Password { name: String },
    /// Change an account's role.
    Role {
        name: String,
        /// administrator, helpdesk or read-only.
        role: String,
    },
    /// Clear a lockout after too many wrong passwords.
    Unlock { name: String },
    /// Delete an account with its tokens and sessions.
    Delete { name: String },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Make a token and print it once.
    Create {
        /// The account the token acts as.
        #[arg(long)]
        owner: String,
        /// administrator, helpdesk or read-only (default: the owner's role; never more).
        #[arg(long)]
        role: Option<String>,
        /// What the token is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Lifetime, e.g. `90d`, `12h`; `never` for no expiry.
        #[arg(long, default_value = "90d")]
        expires: String,
        /// Print the token and its details as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The tokens (never their secrets).
    List {
        /// Only this account's.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token (by its id): it stops working at once.
    Revoke { id: String },
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[arg(long)]
    pub json: bool,
    /// At most this many entries (default 100, at most 10,000).
    #[arg(long)]
    pub limit: Option<usize>,
    /// `claim` (IVR calls, assignments) or `change` (administrative changes).
    #[arg(long)]
    pub kind: Option<String>,
    /// Entries about this device.
    #[arg(long)]
    pub device: Option<String>,
    /// Entries about this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Entries about this object (a template, profile, user or device name).
    #[arg(long)]
    pub object: Option<String>,
    /// Who acted: `cli:root`, `api:alice`, or a channel such as `cli`, `api`, `ivr`, `registrar`.
    #[arg(long)]
    pub actor: Option<String>,
    /// An outcome code, e.g. SUCCESS, INVALID_CREDENTIALS.
    #[arg(long)]
    pub code: Option<String>,
    /// From this time: RFC 3339 (`2026-11-29T08:00:00Z`) or a span ago (`2h`, `3days`).
    #[arg(long)]
    pub since: Option<String>,
    /// Up to this time (same forms).
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Print the files a device receives (its secret masked unless --show-secrets).
    Render {
        /// Device name (`SEP001122AABBCC`).
        device: String,
        /// Render as this model (its family's files and the model's template overrides); a
        /// device not in the database is shown as a freshly auto-registered one.
        #[arg(long)]
        model: Option<String>,
        /// One of the family's templates only (e.g. `device.cnf.xml`).
        #[arg(long)]
        file: Option<String>,
        /// Print the SIP secret instead of `********`.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Render every template (shipped and overrides) for sample phones; report errors with file
    /// and line. Exit 1 when anything is wrong.
    Check,
}

#[derive(Subcommand, Debug)]
pub enum SettingsCmd {
    /// The settings in force, where each comes from (file or database), and the status.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change settings; only the ones given change.
    Set(SettingsArgs),
    /// Drop run-time changes so the file's values apply again: setting names, or `all`.
    Reset {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct SettingsArgs {
    /// Turn the self-provisioning IVR service on or off.
    #[arg(long)]
    pub ivr_enabled: Option<bool>,
    /// users, users_and_admins or none.
    #[arg(long)]
    pub authentication_mode: Option<String>,
    /// Read the administrator authentication code (1 to 20 digits) from standard input.
    #[arg(long)]
    pub authentication_code_stdin: bool,
    /// IVR languages in priority order, e.g. en_US,fr_FR.
    #[arg(long, value_delimiter = ',')]
    pub languages: Option<Vec<String>>,
    #[arg(long)]
    pub auto_registration_enabled: Option<bool>,
    /// UDT for auto-registered phones ("" for none).
    #[arg(long)]
    pub auto_registration_udt: Option<String>,
    /// ULT for auto-registered phones ("" for none).
    #[arg(long)]
    pub auto_registration_ult: Option<String>,
    /// First temporary DN.
    #[arg(long)]
    pub dn_range_start: Option<String>,
    /// Last temporary DN.
    #[arg(long)]
    pub dn_range_end: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum DemoCmd {
    /// Load the demo templates, profile and users (idempotent).
    Load,
}

#[derive(Subcommand, Debug)]
pub enum TemplateCmd {
    /// Universal device templates.
    #[command(subcommand)]
    Udt(Crud<UdtArgs>),
    /// Universal line templates.
    #[command(subcommand)]
    Ult(Crud<UltArgs>),
}

/// Search and paging of a list (seed 004 global search: a prefix, or `*` wildcards).
#[derive(Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// Prefix or `*` pattern, e.g. `jsm`, `*smith`, `00:11:22*` (matches several columns).
    #[arg(long)]
    pub search: Option<String>,
    /// Skip this many matches.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Show at most this many (default 100, at most 1000).
    #[arg(long)]
    pub limit: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

/// A list that can also be sorted.
#[derive(Args, Debug, Clone, Default)]
pub struct SortedListArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Sort key (users: user_id, last_name, primary_extension; devices: name, dn, owner, model, updated).
    #[arg(long)]
    pub sort: Option<String>,
    /// Sort in descending order.
    #[arg(long)]
    pub desc: bool,
}

#[derive(Subcommand, Debug)]
pub enum Crud<A: Args> {
    Create(A),
    /// Change only the fields given.
    Update(A),
    List(ListArgs),
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    Delete {
        name: String,
    },
}

#[derive(Args, Debug)]
pub struct UdtArgs {
    pub name: String,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long)]
    pub device_pool: Option<String>,
    #[arg(long)]
    pub device_security_profile: Option<String>,
    /// The security profile is secure (devices get SECURE_DEVICE_NOT_SUPPORTED).
    #[arg(long)]
    pub secure: Option<bool>,
    #[arg(long)]
    pub sip_profile: Option<String>,
    #[arg(long)]
    pub phone_button_template: Option<String>,
    /// e.g. "#FirstName# #LastName# (#Product#)"
    #[arg(long)]
    pub description_pattern: Option<String>,
}

#[derive(Args, Debug)]
pub struct UltArgs {
    pub name: String,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long)]
    pub partition: Option<String>,
    #[arg(long)]
    pub calling_search_space: Option<String>,
    #[arg(long)]
    pub line_text_label: Option<String>,
    #[arg(long)]
    pub voicemail_profile: Option<String>,
}

#[derive(Args, Debug)]
pub struct ProfileArgs {
    pub name: String,
    #[arg(long)]
    pub description: Option<String>,
    /// Make this the system default profile (clears the flag elsewhere).
    #[arg(long)]
    pub system_default: Option<bool>,
    /// UDT for desk phones ("" to clear).
    #[arg(long)]
    pub udt_desk_phone: Option<String>,
    /// UDT for mobile and desktop devices ("" to clear).
    #[arg(long)]
    pub udt_mobile_desktop: Option<String>,
    /// UDT for remote destination / device profiles ("" to clear).
    #[arg(long)]
    pub udt_profile: Option<String>,
    /// ULT ("" to clear).
    #[arg(long)]
    pub ult: Option<String>,
    /// Allow end users to provision their own phones.
    #[arg(long)]
    pub allow_self_provisioning: Option<bool>,
    /// Limit provisioning once the user has this many phones (1-20, default 10).
    #[arg(long)]
    pub device_limit: Option<u32>,
    /// Allow end users to log in to the self-care portal (default true).
    #[arg(long)]
    pub allow_self_care: Option<bool>,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    Create(UserArgs),
    Update(UserArgs),
    List(SortedListArgs),
    Show {
        user_id: String,
        #[arg(long)]
        json: bool,
    },
    Delete {
        user_id: String,
    },
    /// Clear a lockout after too many wrong PINs.
    Unlock {
        user_id: String,
    },
    /// Give the user a new PIN (and clear a lockout): from stdin, or a random one printed once.
    ResetPin {
        user_id: String,
        /// Read the new PIN from standard input instead of generating one.
        #[arg(long)]
        pin_stdin: bool,
    },
}

#[derive(Args, Debug)]
pub struct UserArgs {
    pub user_id: String,
    #[arg(long)]
    pub first_name: Option<String>,
    #[arg(long)]
    pub last_name: Option<String>,
    /// Defaults to the primary extension.
    #[arg(long)]
    pub self_service_id: Option<String>,
    #[arg(long)]
    pub primary_extension: Option<String>,
    /// User profile ("" for the system default).
    #[arg(long)]
    pub profile: Option<String>,
    #[arg(long)]
    pub enabled: Option<bool>,
    /// The PIN (visible in the process list: prefer --pin-stdin).
    #[arg(long, conflicts_with = "pin_stdin")]
    pub pin: Option<String>,
    /// Read the PIN from standard input.
    #[arg(long)]
    pub pin_stdin: bool,
}

#[derive(Subcommand, Debug)]
pub enum DeviceCmd {
    Create(DeviceArgs),
    Update(DeviceArgs),
    List(SortedListArgs),
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    Delete {
        name: String,
    },
    /// Auto-register a device as if it had registered (next free DN of the range). Local only:
    /// works on the database file, not with --url.
    Autoregister {
        name: String,
        #[arg(long, default_value = "Generic SIP Phone")]
        model: String,
    },
    /// Assign a device to a user with the same rules as the IVR (audited).
    Assign {
        name: String,
        user_id: String,
    },
    /// Give a device back: it returns to auto-registered with a temporary DN (audited).
    Release {
        name: String,
    },
    /// Move a device to another user: the same rules and outcome codes as a claim (audited).
    Move {
        name: String,
        user_id: String,
    },
    /// New hardware takes an old phone's lines; the old one's files stop being served (audited).
    Replace {
        /// The old device's name or MAC.
        old: String,
        /// The new device's name or MAC.
        new: String,
    },
}

#[derive(Args, Debug)]
pub struct DeviceArgs {
    pub name: String,
    #[arg(long)]
    pub model: Option<String>,
    /// desk_phone, mobile_desktop or profile (default: from the model).
    #[arg(long)]
    pub class: Option<String>,
    #[arg(long)]
    pub secure: Option<bool>,
    /// Directory number ("" to clear).
    #[arg(long)]
    pub dn: Option<String>,
    /// Owner user ID ("" to clear).
    #[arg(long)]
    pub owner: Option<String>,
    #[arg(long)]
    pub auto_registered: Option<bool>,
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ImportCmd {
    /// Users from CSV: user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile
    Users {
        file: PathBuf,
        /// Check every row, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rows for users who exist change them (an empty PIN keeps the user's PIN), as when
        /// re-importing `selfprov export users`; without it such rows are refused.
        #[arg(long)]
        update_existing: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ExportCmd {
    /// Users as CSV in the import format (PIN column empty: only hashes are stored), to stdout
    /// or FILE. Re-imports with `selfprov import users --update-existing`.
    Users { file: Option<PathBuf> },
}

#[derive(Subcommand, Debug)]
pub enum PromptsCmd {
    /// Report missing prompts per language, wrong formats, clipped or silent files.
    Check {
        /// Languages to check (default: the configured ones and en_US).
        #[arg(long, value_delimiter = ',')]
        languages: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct PhoneArgs {
    /// Digits to type. Each group is typed when the IVR next asks for input; groups are split
    /// at commas, else after each `#`: "1004#12345#1" = ID, PIN, confirm.
    #[arg(long, default_value = "")]
    pub digits: String,
    /// Device name to register as (default: a random SEP + MAC, a phone never seen before).
    #[arg(long)]
    pub device: Option<String>,
    /// Codec to offer, named as in media.codecs: PCMU, PCMA, G722, G729, L16 (16 kHz),
    /// L16_8000, OPUS.
    #[arg(long, default_value = "PCMU")]
    pub codec: String,
    /// DTMF method: rfc4733, info or inband (in-band needs PCMU or PCMA).
    #[arg(long, default_value = "rfc4733")]
    pub dtmf: String,
    /// Clock rate of the RFC 4733 telephone-events offered: 8000, 16000 or 48000 (default: the
    /// codec's RTP clock rate, e.g. 16000 for L16, 8000 for G722).
    #[arg(long)]
    pub dtmf_rate: Option<u32>,
    /// selfprov's SIP address (default: sip.listen of the config file).
    #[arg(long)]
    pub server: Option<std::net::SocketAddr>,
    /// Number to dial (default: the first route-point DN of the config file).
    #[arg(long)]
    pub dial: Option<String>,
    /// Call without registering first.
    #[arg(long)]
    pub no_register: bool,
    /// Do not fetch the configuration file first (a phone set up by hand). By default the phone
    /// fetches `SEP<MAC>.cnf.xml` from the configuration server (`phone_config.public_url`, else
    /// `http_listen`) and uses its line and credentials — unless `registrar.phone_auth` is
    /// "binding".
    #[arg(long)]
    pub no_fetch: bool,
    /// The device's digest secret, when it has one already (`selfprov config render DEVICE
    /// --show-secrets`): a phone fetches its file again with it, or registers with it.
    #[arg(long)]
    pub password: Option<String>,
    /// Send no audio, only DTMF (a phone with voice activity detection and silence suppression).
    #[arg(long)]
    pub vad: bool,
    /// Put the call on hold when this prompt starts (e.g. enter_pin) ...
    #[arg(long)]
    pub hold_at: Option<String>,
    /// ... for this long, then resume.
    #[arg(long, default_value = "2s")]
    pub hold_for: humantime::Duration,
    /// Hang up right after typing the last digit group.
    #[arg(long)]
    pub hangup_after_digits: bool,
    /// Wait this long after a prompt that asks for input starts before typing.
    #[arg(long, default_value = "300ms")]
    pub typing_delay: humantime::Duration,
    /// Hang up after this long in the call.
    #[arg(long, default_value = "120s")]
    pub timeout: humantime::Duration,
    /// Write the received audio, decoded, to this WAV file.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Boot as this vendor's phone does (cisco, yealink, polycom): fetch its files in its order,
    /// register with the line they give, claim when --digits are given, then follow --syncs
    /// NOTIFY check-syncs (fetch again, register again). With --json: one JSON object per step
    /// as it happens, then the report.
    #[arg(long)]
    pub boot: Option<String>,
    /// With --boot: how many check-syncs to follow, each waited for up to --timeout (default: 1
    /// with --digits, else 0).
    #[arg(long)]
    pub syncs: Option<u32>,
    /// With --boot cisco: claim on screen instead of calling the route point — open the idle URL
    /// of the phone's file in its XML browser, log in with --user and --pin (or type --code),
    /// press Continue (outcome `registered` once provisioned, else `claim_<code>`;
    /// docs/screen-claim.md).
    #[arg(long, requires = "boot")]
    pub screen: bool,
    /// With --screen: the user ID typed on screen (the self-service ID, e.g. 1004).
    #[arg(long, requires = "screen")]
    pub user: Option<String>,
    /// With --screen: the PIN typed on screen.
    #[arg(long, requires = "screen")]
    pub pin: Option<String>,
    /// With --screen: an activation code typed on screen in place of --user and --pin.
    #[arg(long, requires = "screen", conflicts_with = "user")]
    pub code: Option<String>,
    /// With --boot: once registered, wait up to this long for a call on the line, answer it and
    /// stay until the caller hangs up (outcome `answered`, or `no_call`).
    #[arg(long)]
    pub answer: Option<humantime::Duration>,
}
