//! Invariants for any sequence of operations: the device limit and a single owner per device;
//! no temporary DN handed to two devices.

use crate::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 12,
        ..Config::default()
    })
}

pub fn limit_and_single_owner_hold(make: &Factory) {
    let strategy = (
        1u32..5,
        proptest::collection::vec((0usize..3, 0usize..8), 1..40),
    );
    runner()
        .run(&strategy, |(limit, attempts)| {
            let h = make();
            create_udt(&h, "Desk", false);
            create_profile(&h, "P", true, limit, true);
            for u in 0..3 {
                create_user(&h, &format!("u{u}"), Some(&format!("10{u}0")), "P", "1");
            }
            for d in 0..8 {
                autoreg_device(&h, &format!("SEPPROP{d:08}"), "Cisco 8845");
            }
            for (u, d) in attempts {
                let _ = claim(&h, &format!("SEPPROP{d:08}"), &format!("u{u}"));
            }
            let devices = h.ops.devices(&Default::default()).unwrap().items;
            for u in 0..3 {
                let owned = devices
                    .iter()
                    .filter(|d| {
                        d.owner
                            .as_ref()
                            .is_some_and(|o| o.as_str() == format!("u{u}"))
                    })
                    .count();
                prop_assert!(owned as u32 <= limit);
            }
            Ok(())
        })
        .unwrap();
}

pub fn autoreg_dns_unique(make: &Factory) {
    let strategy = (1u32..20, proptest::collection::vec(0u32..30, 1..40));
    runner()
        .run(&strategy, |(size, regs)| {
            let h = make();
            let set = autoreg("4000", &(4000 + size - 1).to_string());
            for r in regs {
                let _ = h.claims().auto_register(
                    &format!("SEPDN{r:010}").parse().unwrap(),
                    "Cisco 8845",
                    &set,
                    &Actor::registrar(),
                    NOW,
                );
            }
            let dns: Vec<String> = h
                .ops
                .devices(&Default::default())
                .unwrap()
                .items
                .into_iter()
                .filter_map(|d| d.dn.map(String::from))
                .collect();
            let unique: std::collections::HashSet<_> = dns.iter().collect();
            prop_assert_eq!(dns.len(), unique.len());
            prop_assert!(dns.len() as u32 <= size);
            Ok(())
        })
        .unwrap();
}
