//! Phones told to fetch their files again after a change made outside a call — a release, move
//! or replace through the API: the API hands the device names to the event loop
//! ([`resync_source`]), which sends each NOTIFY check-sync where `phone_target` says, as after a
//! claim through the IVR.

use crate::phone_target::device_target;
use crate::state::Service;
use crate::work::Work;
use selfprov_sip::endpoint::OutOfDialogTarget;
use selfprov_sip::stack::Command as SipCommand;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

impl Service {
    /// NOTIFY check-sync to each of `devices`: at its binding here, else through the outbound
    /// proxy to `sip:<device>@<registrar.address>`.
    pub(crate) fn check_sync_devices(&mut self, devices: Vec<String>) {
        for device in devices {
            let aor =
                (self.cfg.raw.registrar.address.as_ref()).map(|a| format!("sip:{device}@{a}"));
            let binding = self.bindings.get(&device, Instant::now());
            match device_target(aor.as_deref(), binding, self.outbound_proxy.as_ref()) {
                Some(target) => {
                    tracing::info!(%device, uri = %target.uri, via = %target.next_hop.addr, "NOTIFY check-sync");
                    self.notify_check_sync(target);
                }
                None => {
                    tracing::info!(%device, "no address for NOTIFY check-sync (not registered)")
                }
            }
        }
    }

    pub(crate) fn notify_check_sync(&self, target: OutOfDialogTarget) {
        self.sip
            .commands
            .send(SipCommand::NotifyCheckSync { target })
            .ok();
    }
}

/// The API's way to tell phones that their files changed.
pub(crate) fn resync_source(work: mpsc::UnboundedSender<Work>) -> selfprov_api::Resync {
    Arc::new(move |devices| {
        work.send(Work::CheckSync(devices)).ok();
    })
}
