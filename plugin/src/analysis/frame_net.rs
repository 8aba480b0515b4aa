//! Which note sounds now, frame by frame (AUDIO THREAD): a small learned model over the long
//! frame's semitone bands and how they moved in the last 100 ms.
//!
//! The tracker names a note from runs of pitch estimates, and an estimate reads the louder
//! note: where notes overlap (a pad's or an ensemble's slow swell under the last note's fade, a
//! pedalled piano's ringing strings) the new note is named late or not at all. Offline
//! (`tools/framenet/`, journal *A learned frame model for the slow sounds*), a frame model that
//! sees the bands' rises and falls named the sounding note of string ensembles, pads and voices
//! 30–70 ms into it two to three times as often as the tracker, on renders it never saw.
//!
//! Every [`FrameNet::every`] analysis hops (about 5.3 ms), the stage pools the long frame's Hann
//! power into one band per semitone, MIDI [`LOW_MIDI`]–[`LOW_MIDI`] + [`BANDS`] − 1 (every bin
//! whose centre lies within half a semitone; a band narrower than a bin reads the power
//! interpolated at its centre), as `ln(1e-6 + 1e4 · power)` less the frame's largest band,
//! floored at −20, with the frame's level in dB, and keeps the last [`MEMORY_S`] of them. These
//! are [`FrameNet::features`], what `continuo eval-transcription --dump-frames` writes for
//! training. Asked (the note-start judge asks for the new note's probability now, at its dated
//! onset and 60 ms before it), a network of one hidden layer reads a kept frame's bands and their
//! change from 10, 25, 50 and 100 ms before it and gives a probability for every band's note
//! and for none ([`FrameNet::probabilities`]).
//!
//! Limits: the bands are at A4 = 440 Hz whatever tuning the analysis follows (a player far
//! from it is read between two bands); the network was trained on 44.1 and 48 kHz renders (at
//! 22.05 and 96 kHz the frame and hop keep their length in time, and a held tone is named
//! there too, `the_frame_model_names_a_held_tone_at_every_rate`).
//!
//! Cost: one pass over the Hann bins and [`BANDS`] logarithms per net hop; per question,
//! [`INPUTS`] × hidden + hidden × [`OUTPUTS`] multiply-adds. Every buffer is allocated in `new`.

use super::top_voice::log10;

/// Lowest band's MIDI note.
pub const LOW_MIDI: u8 = 28;
/// Bands (semitones), MIDI 28–108.
pub const BANDS: usize = 81;
/// Outputs of the network: one per band, then none.
pub const OUTPUTS: usize = BANDS + 1;
/// How far back the network compares the bands (ms).
pub const CONTEXT_MS: [f32; 4] = [10.0, 25.0, 50.0, 100.0];
/// Inputs of the network: the bands now, their change from each context time, the level now
/// and its changes.
pub const INPUTS: usize = BANDS * (1 + CONTEXT_MS.len()) + 1 + CONTEXT_MS.len();
/// Most hidden units a network may have (its hidden layer lives on the stack).
pub const MAX_HIDDEN: usize = 256;
/// The net's hop (s): the analysis hop times [`FrameNet::every`] comes nearest to it.
pub const NET_HOP_S: f32 = 256.0 / 48_000.0;
/// A band's log power is floored this far under the frame's strongest band.
const FLOOR: f32 = -20.0;
/// How far back (s) a probability may be asked for: a slow start's dated onset lies up to a
/// few hundred milliseconds before its decision.
pub const MEMORY_S: f32 = 0.4;

/// One band's bins: a run summed, or (no bin inside it) two neighbours interpolated.
#[derive(Debug, Clone, Copy)]
enum Band {
    Sum { lo: usize, hi: usize },
    Interpolate { bin: usize, frac: f32 },
}

/// The network's weights (one hidden layer of ReLU units, a softmax over [`OUTPUTS`]).
#[derive(Debug, Clone)]
pub struct Weights {
    /// Hidden units.
    pub hidden: usize,
    /// `INPUTS × hidden`, row-major (input-major).
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    /// `hidden × OUTPUTS`, row-major.
    pub w2: Vec<f32>,
    pub b2: Vec<f32>,
}

impl Weights {
    /// Reads weights written by `tools/framenet/export.py`: the hidden size as a little-endian
    /// u32, then `w1`, `b1`, `w2`, `b2` as little-endian f32. `None` when the sizes disagree.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let hidden = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let counts = [INPUTS * hidden, hidden, hidden * OUTPUTS, OUTPUTS];
        if hidden == 0 || hidden > MAX_HIDDEN || bytes.len() != 4 + 4 * counts.iter().sum::<usize>()
        {
            return None;
        }
        let mut floats = bytes[4..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let mut take = |n: usize| -> Vec<f32> { floats.by_ref().take(n).collect() };
        let (w1, b1, w2, b2) = (
            take(counts[0]),
            take(counts[1]),
            take(counts[2]),
            take(counts[3]),
        );
        (w1.iter()
            .chain(&b1)
            .chain(&w2)
            .chain(&b2)
            .all(|v| v.is_finite()))
        .then_some(Self {
            hidden,
            w1,
            b1,
            w2,
            b2,
        })
    }
}

/// The weights shipped with the plugin, or `None` if they do not read: 64 hidden units,
/// fitted by `tools/framenet/train.py` (`FN_SETS=dev,jx,syn`) on this stage's own features of
/// the dev split's renders, `/tmp/jx`'s and the synthetic melodies of `synth.py /tmp/syn 240
/// 7` (hum, organ registrations, struck bars, rooms: sounds the renders lack, on which the
/// first network, trained on renders only, started a hum as G1 and lost organ keys)
/// (`continuo eval-transcription DIR --dump-frames`, then `feat_rust.py`), less every render
/// whose melody `/tmp/jy` or `/tmp/jq` holds; labels: the written note sounding at each net
/// hop, or none. Exported by `export.py`.
pub fn shipped_weights() -> Option<Weights> {
    Weights::from_bytes(include_bytes!("frame_net_weights.bin"))
}

/// The stage.
pub struct FrameNet {
    /// Analysis hops per net hop.
    every: u32,
    /// Analysis hops since the last net hop.
    count: u32,
    /// Which Hann bins make each band (from the bin width, in `new`).
    bands: [Band; BANDS],
    /// Net hops back for each of [`CONTEXT_MS`].
    back: [usize; 4],
    /// The last `ring_len` frames' bands and levels, newest at `head` (allocated in `new`).
    ring_bands: Vec<[f32; BANDS]>,
    ring_levels: Vec<f32>,
    head: usize,
    /// Stream samples per net hop (turns the judge's stream times into hops back).
    net_hop_samples: u64,
    /// The network (read in `new`); without it the stage keeps its features and answers no
    /// question (`Tuning` `frame_net=0`).
    weights: Option<Weights>,
}

impl FrameNet {
    /// A stage for Hann bins `bin_hz` apart (`bins` of them), on analysis hops of `hop`
    /// samples at `sample_rate`; a net hop is the whole number of them nearest [`NET_HOP_S`].
    pub fn new(
        bin_hz: f32,
        bins: usize,
        hop: usize,
        sample_rate: f32,
        weights: Option<Weights>,
    ) -> Self {
        let hop_s = hop as f32 / sample_rate.max(1.0);
        let every = ((NET_HOP_S / hop_s.max(1e-6)).round() as u32).max(1);
        let net_hop_s = hop_s * every as f32;
        let back = CONTEXT_MS.map(|ms| ((ms / 1000.0 / net_hop_s).round() as usize).max(1));
        let ring_len =
            back.iter().copied().max().unwrap_or(1) + (MEMORY_S / net_hop_s).ceil() as usize + 1;
        let bands = std::array::from_fn(|b| {
            let centre = 440.0 * 2f32.powf((LOW_MIDI as f32 + b as f32 - 69.0) / 12.0);
            let (lo_hz, hi_hz) = (
                centre * 2f32.powf(-0.5 / 12.0),
                centre * 2f32.powf(0.5 / 12.0),
            );
            // Bins whose centre k · bin_hz lies in [lo_hz, hi_hz).
            let lo = (lo_hz / bin_hz).ceil() as usize;
            let hi = ((hi_hz / bin_hz).ceil() as usize).min(bins);
            if lo < hi {
                Band::Sum { lo, hi }
            } else {
                let x = centre / bin_hz;
                Band::Interpolate {
                    bin: (x.floor() as usize).min(bins.saturating_sub(2)),
                    frac: x - x.floor(),
                }
            }
        });
        Self {
            every,
            count: 0,
            bands,
            back,
            ring_bands: vec![[FLOOR; BANDS]; ring_len],
            ring_levels: vec![-120.0; ring_len],
            head: 0,
            net_hop_samples: hop as u64 * u64::from(every),
            weights,
        }
    }

    /// Analysis hops per net hop.
    pub fn every(&self) -> u32 {
        self.every
    }

    /// Forgets the signal.
    pub fn reset(&mut self) {
        self.count = 0;
        self.head = 0;
        self.ring_bands.iter_mut().for_each(|b| *b = [FLOOR; BANDS]);
        self.ring_levels.iter_mut().for_each(|l| *l = -120.0);
    }

    /// One analysis hop's Hann magnitudes (scaled so a full-scale sine reads 0.5). Returns
    /// whether this was a net hop (new features kept).
    pub fn process(&mut self, hann_mags: &[f32]) -> bool {
        self.count += 1;
        if self.count < self.every {
            return false;
        }
        self.count = 0;
        let mut power = [0.0f32; BANDS];
        let p = |k: usize| hann_mags.get(k).map_or(0.0, |m| m * m);
        for (out, band) in power.iter_mut().zip(&self.bands) {
            *out = match *band {
                Band::Sum { lo, hi } => hann_mags
                    .get(lo..hi.min(hann_mags.len()))
                    .map_or(0.0, |m| m.iter().map(|m| m * m).sum()),
                Band::Interpolate { bin, frac } => p(bin) * (1.0 - frac) + p(bin + 1) * frac,
            };
        }
        let total: f32 = hann_mags.iter().map(|m| m * m).sum();
        // The analysis's cheap log10 (within 1e-4): the library's made the stage's cost.
        let level = 10.0 * log10(1e-12 + total);
        let mut top = f32::NEG_INFINITY;
        for v in power.iter_mut() {
            *v = log10(1e-6 + 1e4 * *v) * std::f32::consts::LN_10;
            top = top.max(*v);
        }
        for v in power.iter_mut() {
            *v = (*v - top).max(FLOOR);
        }
        self.push(&power, level);
        true
    }

    /// One net hop's features (as [`FrameNet::process`] computes them, or as dumped): into the
    /// history.
    pub fn push(&mut self, bands: &[f32; BANDS], level: f32) {
        self.head = (self.head + 1) % self.ring_bands.len();
        self.ring_bands[self.head] = *bands;
        self.ring_levels[self.head] = level;
    }

    /// The newest net hop's bands and level (see the module's notes).
    pub fn features(&self) -> (&[f32; BANDS], f32) {
        (&self.ring_bands[self.head], self.ring_levels[self.head])
    }

    /// The network's probabilities for the net hop `back` hops before the newest (at most
    /// [`MEMORY_S`] back; older asks read the oldest kept): band `b` is MIDI [`LOW_MIDI`] +
    /// `b`, the last is none. `None` without weights. Computed on the spot (the judge asks a
    /// few times per start, not every hop); no allocation.
    pub fn probabilities(&self, back: usize) -> Option<[f32; OUTPUTS]> {
        let w = self.weights.as_ref()?;
        let n = self.ring_bands.len();
        let reach = self.back.iter().copied().max().unwrap_or(1);
        let back = back.min(n - 1 - reach);
        let at = (self.head + n - back) % n;
        let mut input = [0.0f32; INPUTS];
        let now = &self.ring_bands[at];
        let level = self.ring_levels[at];
        for (x, b) in input[..BANDS].iter_mut().zip(now) {
            *x = (b + 10.0) / 5.0;
        }
        for (c, &k) in self.back.iter().enumerate() {
            let j = (at + n - k) % n;
            let then = &self.ring_bands[j];
            for ((x, a), b) in input[BANDS * (1 + c)..BANDS * (2 + c)]
                .iter_mut()
                .zip(now)
                .zip(then)
            {
                *x = (a - b) / 3.0;
            }
            input[BANDS * 5 + 1 + c] = (level - self.ring_levels[j]) / 10.0;
        }
        input[BANDS * 5] = (level + 50.0) / 20.0;
        Some(w.forward(&input))
    }

    /// The probability of MIDI `midi` at stream time `at` (samples), the newest net hop ending
    /// at `now`; 0 without weights or outside the bands.
    pub fn probability_of(&self, midi: u8, at: u64, now: u64) -> f32 {
        let Some(b) = (midi as usize)
            .checked_sub(LOW_MIDI as usize)
            .filter(|&b| b < BANDS)
        else {
            return 0.0;
        };
        let back = (now.saturating_sub(at) / self.net_hop_samples.max(1)) as usize;
        self.probabilities(back).map_or(0.0, |p| p[b])
    }
}

impl Weights {
    /// The network on one input: ReLU hidden units, a softmax over the outputs.
    fn forward(&self, input: &[f32; INPUTS]) -> [f32; OUTPUTS] {
        let h = self.hidden.min(MAX_HIDDEN);
        let mut hidden = [0.0f32; MAX_HIDDEN];
        hidden[..h].copy_from_slice(&self.b1[..h]);
        for (x, row) in input.iter().zip(self.w1.chunks_exact(self.hidden)) {
            for (a, wv) in hidden[..h].iter_mut().zip(row) {
                *a += x * wv;
            }
        }
        let mut z = [0.0f32; OUTPUTS];
        z.copy_from_slice(&self.b2);
        for (a, row) in hidden[..h].iter().zip(self.w2.chunks_exact(OUTPUTS)) {
            let a = a.max(0.0);
            for (o, wv) in z.iter_mut().zip(row) {
                *o += a * wv;
            }
        }
        let top = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in z.iter_mut() {
            *v = (*v - top).exp();
            sum += *v;
        }
        if sum > 0.0 && sum.is_finite() {
            z.iter_mut().for_each(|v| *v /= sum);
        } else {
            z = [0.0; OUTPUTS];
        }
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hann magnitudes of a harmonic tone at `midi` (`partials` of falling strength) for bins
    /// `bin_hz` apart, each partial spread over its bin and the two beside it as a Hann window's
    /// main lobe is.
    fn tone(midi: f32, partials: usize, bin_hz: f32, bins: usize) -> Vec<f32> {
        let mut mags = vec![0.0; bins];
        let f0 = 440.0 * 2f32.powf((midi - 69.0) / 12.0);
        for h in 1..=partials {
            let k = (f0 * h as f32 / bin_hz).round() as usize;
            let a = 0.25 / h as f32;
            for (d, w) in [(0usize, 1.0f32), (1, 0.5)] {
                if let Some(m) = mags.get_mut(k + d) {
                    *m += a * w;
                }
                if let Some(m) = k.checked_sub(d).and_then(|i| mags.get_mut(i)) {
                    *m += a * w * f32::from(d > 0);
                }
            }
        }
        mags
    }

    fn stage(rate: f32, weights: Option<Weights>) -> (FrameNet, f32, usize) {
        let (frame, hop) = (2048.0, 128.0);
        let bin_hz = rate / frame;
        let bins = (6000.0 / bin_hz) as usize;
        (
            FrameNet::new(bin_hz, bins, hop as usize, rate, weights),
            bin_hz,
            bins,
        )
    }

    /// From A4 up, where a semitone is wider than a bin (below it a band narrower than a bin
    /// reads its neighbours' interpolated power, and a tone between two bins may read strongest
    /// in the band beside its own: the network learns the bands as they are).
    #[test]
    fn a_tone_is_strongest_in_its_own_band_at_both_rates() {
        for rate in [44_100.0, 48_000.0] {
            let (mut net, bin_hz, bins) = stage(rate, None);
            assert_eq!(net.every(), 2, "{rate}: a net hop of two analysis hops");
            for midi in [69.0f32, 72.0, 76.0, 84.0, 91.0] {
                let mags = tone(midi, 6, bin_hz, bins);
                assert!(
                    !net.process(&mags),
                    "the first of two hops is not a net hop"
                );
                assert!(net.process(&mags));
                let (bands, level) = net.features();
                let top = (0..BANDS)
                    .max_by(|&a, &b| bands[a].total_cmp(&bands[b]))
                    .unwrap();
                assert_eq!(
                    top + LOW_MIDI as usize,
                    midi as usize,
                    "{rate} Hz, MIDI {midi}"
                );
                assert_eq!(bands[top], 0.0, "bands are relative to the strongest");
                assert!(bands.iter().all(|&b| (FLOOR..=0.0).contains(&b)));
                assert!(level > -30.0 && level < 0.0, "level {level} dB");
            }
        }
    }

    #[test]
    fn silence_reads_the_floor_and_resets_clean() {
        let (mut net, _, bins) = stage(48_000.0, None);
        let quiet = vec![0.0; bins];
        net.process(&quiet);
        net.process(&quiet);
        let (bands, level) = net.features();
        assert!(
            bands.iter().all(|&b| b == 0.0),
            "all bands alike in silence"
        );
        assert!(level <= -119.0);
        net.reset();
        assert!(!net.process(&quiet), "the count restarts");
    }

    #[test]
    fn weights_of_the_wrong_size_or_not_finite_are_refused() {
        let h = 2usize;
        let n = INPUTS * h + h + h * OUTPUTS + OUTPUTS;
        let mut bytes = (h as u32).to_le_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(0u8, 4 * n));
        assert!(Weights::from_bytes(&bytes).is_some());
        assert!(Weights::from_bytes(&bytes[..bytes.len() - 4]).is_none());
        assert!(Weights::from_bytes(&[]).is_none());
        let mut nan = bytes.clone();
        nan[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(Weights::from_bytes(&nan).is_none());
    }

    /// The shipped weights give, for 64 rows of a render's features, the probabilities the
    /// training scripts' network gives (`tools/framenet/export.py` wrote both): the input's
    /// layout, its context offsets at the render's rate and the arithmetic agree.
    #[test]
    fn the_shipped_network_answers_as_the_training_scripts_do() {
        let check = include_bytes!("frame_net_check.bin");
        let u32_at = |i: usize| u32::from_le_bytes(check[i..i + 4].try_into().unwrap());
        let f32_at = |i: usize| f32::from_le_bytes(check[i..i + 4].try_into().unwrap());
        let (rows, rate) = (u32_at(0) as usize, u32_at(4) as f32);
        assert_eq!(check.len(), 8 + 4 * (rows * (BANDS + 1) + 8 * OUTPUTS));
        let (frame, hop) = (2048.0, 128.0);
        let mut net = FrameNet::new(rate / frame, 256, hop as usize, rate, shipped_weights());
        let probs_at = 8 + 4 * rows * (BANDS + 1);
        let mut worst = 0.0f32;
        for r in 0..rows {
            let row = 8 + 4 * r * (BANDS + 1);
            let level = f32_at(row);
            let bands: [f32; BANDS] = std::array::from_fn(|b| f32_at(row + 4 + 4 * b));
            net.push(&bands, level);
            if r + 8 >= rows {
                let want = probs_at + 4 * (r + 8 - rows) * OUTPUTS;
                for (o, p) in net.probabilities(0).unwrap().iter().enumerate() {
                    worst = worst.max((p - f32_at(want + 4 * o)).abs());
                }
            }
        }
        assert!(worst < 1e-4, "largest difference {worst}");
    }

    /// A hand-made network of one unit per band that reads that band now (and a none unit that
    /// reads nothing): its answer is the strongest band, so the input's layout, the hidden
    /// layer and the softmax are wired as the training scripts assume.
    #[test]
    fn a_network_that_reads_the_bands_now_names_the_strongest() {
        let h = BANDS;
        let mut w1 = vec![0.0; INPUTS * h];
        for b in 0..BANDS {
            // Input b is (band b + 10) / 5: 2 for the strongest band, -2 at the floor.
            w1[b * h + b] = 20.0;
        }
        let mut w2 = vec![0.0; h * OUTPUTS];
        for b in 0..BANDS {
            w2[b * OUTPUTS + b] = 1.0;
        }
        let weights = Weights {
            hidden: h,
            w1,
            b1: vec![0.0; h],
            w2,
            b2: vec![0.0; OUTPUTS],
        };
        let (mut net, bin_hz, bins) = stage(48_000.0, Some(weights));
        let mags = tone(76.0, 4, bin_hz, bins);
        net.process(&mags);
        net.process(&mags);
        let p = net.probabilities(0).unwrap();
        let top = (0..OUTPUTS).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(top + LOW_MIDI as usize, 76);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(p[top] > 0.5, "{}", p[top]);
    }
}
