//! Receive-side RTP statistics of one call: packets, loss and reordering by sequence number,
//! and how far each arrival strays from the sender's packet-time grid.

/// Running statistics for one received RTP stream.
#[derive(Debug, Clone, Default)]
pub struct RtpStats {
    pub received: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
    /// Extended sequence numbers: first and highest seen.
    first_seq: Option<u64>,
    highest: u64,
    /// Grid origin: arrival time (µs) and RTP timestamp of the talkspurt's anchor packet.
    origin: Option<(u64, u32)>,
    /// Deviation of each arrival from the grid, in µs (for percentiles).
    pub deviations_us: Vec<u32>,
    /// The last 64 extended sequence numbers (duplicate detection).
    seen: std::collections::VecDeque<u64>,
}

impl RtpStats {
    /// One packet: sequence number, RTP timestamp, marker bit (start of a talkspurt: the grid
    /// starts again, silence between prompts is not lateness), arrival time in µs since any
    /// fixed origin, and the RTP clock rate.
    pub fn on_packet(&mut self, seq: u16, ts: u32, marker: bool, arrival_us: u64, clock: u32) {
        self.received += 1;
        let ext = match self.first_seq {
            None => {
                self.first_seq = Some(u64::from(seq) + 65_536);
                self.highest = u64::from(seq) + 65_536;
                self.highest
            }
            Some(_) => {
                // Nearest extension of `seq` to the highest seen.
                let base = self.highest & !0xffff;
                let c = [base + u64::from(seq), base + u64::from(seq) + 65_536, (base + u64::from(seq)).saturating_sub(65_536)];
                *c.iter().min_by_key(|&&v| v.abs_diff(self.highest)).unwrap()
            }
        };
        if self.seen.contains(&ext) {
            self.duplicates += 1;
            self.received -= 1;
            return;
        }
        self.seen.push_back(ext);
        if self.seen.len() > 64 {
            self.seen.pop_front();
        }
        if ext < self.highest {
            self.out_of_order += 1;
        } else {
            self.highest = ext;
        }
        // The grid: when a packet with timestamp `ts` should arrive if the anchor was on time.
        // A late anchor makes the others look early; re-anchor on the earliest so the grid is
        // set by the best-case path.
        if marker {
            self.origin = None;
        }
        let (t0, ts0) = *self.origin.get_or_insert((arrival_us, ts));
        let elapsed = i64::from(ts.wrapping_sub(ts0) as i32) * 1_000_000 / i64::from(clock.max(1));
        let dev = arrival_us as i64 - (t0 as i64 + elapsed);
        if dev < 0 {
            // Arrived earlier than the grid says: move the grid, earlier deviations stay.
            self.origin = Some((arrival_us, ts));
            self.deviations_us.push(0);
        } else {
            self.deviations_us.push(dev.min(u32::MAX as i64) as u32);
        }
    }

    /// Packets missing between the first and highest sequence number.
    pub fn lost(&self) -> u64 {
        match self.first_seq {
            None => 0,
            Some(f) => (self.highest - f + 1).saturating_sub(self.received),
        }
    }

    /// Deviation percentile in ms (`q` in 0..=1).
    pub fn deviation_ms(&self, q: f64) -> f64 {
        percentile(&self.deviations_us, q) / 1000.0
    }
}

/// `q`-quantile (nearest rank) of unsorted values; 0 for none.
pub fn percentile(values: &[u32], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len());
    f64::from(v[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_time_stream_has_no_loss_or_deviation() {
        let mut s = RtpStats::default();
        for i in 0..100u16 {
            let ts = 4_294_960_000u32.wrapping_add(u32::from(i) * 160);
            s.on_packet(65_500u16.wrapping_add(i), ts, i == 0, 1_000 + u64::from(i) * 20_000, 8000);
        }
        assert_eq!((s.received, s.lost(), s.out_of_order), (100, 0, 0));
        assert_eq!(s.deviation_ms(0.99), 0.0);
    }

    #[test]
    fn counts_loss_reordering_duplicates_and_lateness() {
        let mut s = RtpStats::default();
        let t = |i: u64| i * 20_000;
        let ts = |i: u32| 1000 + i * 160;
        s.on_packet(1, ts(0), true, t(0), 8000);
        s.on_packet(3, ts(2), false, t(2), 8000);
        s.on_packet(2, ts(1), false, t(2) + 500, 8000); // late and out of order
        s.on_packet(2, ts(1), false, t(2) + 600, 8000); // duplicate
        s.on_packet(6, ts(5), false, t(5) + 7_000, 8000); // 4 and 5 lost, 7 ms late
        // A new talkspurt after 3 s of silence: a new grid, not 3 s of lateness.
        s.on_packet(7, ts(6), true, t(6) + 3_000_000, 8000);
        s.on_packet(8, ts(7), false, t(7) + 3_000_000, 8000);
        assert_eq!(s.received, 6);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.out_of_order, 1);
        assert_eq!(s.lost(), 2);
        assert_eq!(s.deviation_ms(1.0), 20.5);
        assert_eq!(s.deviation_ms(0.8), 7.0);
    }
}
