//! The self-provisioning IVR call flow as a state machine without I/O.
