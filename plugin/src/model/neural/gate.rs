//! The learnt mix ([`Gate`]): each part's weight is `exp(θ · f)` from three features of the note
//! to predict — a constant, the log of the part's relative entropy (`ln(H / H_max)`, so
//! `θ = [0, -bias, 0]` is Pearce's entropy weight) and the log of the position in the melody
//! (`ln(1 + notes before)`, which is also what the session model has seen in an evaluation) —
//! fitted by gradient descent on the parts' predictions on the validation part of the training
//! files ([`Samples`], `continuo eval --dump-mix`, `continuo fit-mix`). Pitch and rhythm have
//! their own weights. Arithmetic gates normalise the weights to sum 1; geometric (log-linear)
//! ones use them as they are, so their sum also sharpens or flattens the product.

use super::mix::{mix_into, MixRule};
use crate::model::eval::Scores;
use crate::model::note::N_RHYTHM;
use crate::model::predictor::{relative_entropy_of, Prediction, Predictor};
use crate::model::train::Sequence;
use crate::model::viewpoints::History;
use std::io::{Read, Write};

/// Features per part: constant, `ln(H / H_max)`, `ln(1 + position)`.
pub const N_FEATURES: usize = 3;
/// Most parts a gate weighs (the network and the PPM with its session model, or the network and
/// the PPM's long- and short-term models apart). Mixes of another number of parts than the
/// gate's fall back to entropy weights with bias 1, combined the gate's way.
pub const GATE_PARTS: usize = 3;
/// Version of the gate's features; bumped whenever they change meaning, so that weights fitted
/// for other features are refused ([`Gate::is_current`]).
pub const GATE_VERSION: u32 = 1;
/// Logits are clamped to this range (weights e^-20 to e^3), in fitting as in use, so that no
/// weight overflows whatever the features.
const LOGIT_RANGE: (f64, f64) = (-20.0, 3.0);
/// Probabilities are floored here before taking logarithms.
pub const FLOOR: f64 = 1e-12;

/// The shipped gate: the network (row 0) and the PPM with its session model (row 1), mixed
/// arithmetically. Rhythm: the arithmetic gate `continuo fit-mix` fitted on the validation part
/// of the training files (the PPM's weight grows along the melody, the network's shrinks).
/// Pitch: Pearce's entropy weights with bias 1 (`[0, -1, 0]`), as before: the fitted pitch
/// weights had 0.013 fewer bits per note but a lower top-1 in every validation folder, and the
/// geometric mixes had fewer pitch bits but a lower top-1 too (README, *Neural model*).
pub const GATE: Gate = Gate {
    version: GATE_VERSION,
    geometric: false,
    parts: 2,
    pitch: [[0.0, -1.0, 0.0], [0.0, -1.0, 0.0], [0.0; N_FEATURES]],
    rhythm: [
        [1.0446, -0.1896, -0.1195],
        [-0.8345, -0.3575, 0.2452],
        [0.0; N_FEATURES],
    ],
};

/// A learnt mixing gate; see the module's documentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    /// [`GATE_VERSION`] of the features the weights were fitted for.
    pub version: u32,
    /// Weighted geometric mean renormalised (true) or weighted arithmetic mean (false).
    pub geometric: bool,
    /// Parts it weighs (2 or 3; the rows past it are unused).
    pub parts: usize,
    /// Pitch weights, one row of `θ` per part (part 0 the network, then the PPM's).
    pub pitch: [[f64; N_FEATURES]; GATE_PARTS],
    /// Rhythm weights, the same way.
    pub rhythm: [[f64; N_FEATURES]; GATE_PARTS],
}

/// The features of one part for one prediction over `n` targets, `len` notes into the melody.
pub fn features(p: &[f64], n: usize, len: usize) -> [f64; N_FEATURES] {
    [1.0, relative_entropy_of(p, n).ln(), ((1 + len) as f64).ln()]
}

impl Gate {
    /// Whether the weights were fitted for this build's features.
    pub fn is_current(&self) -> bool {
        self.version == GATE_VERSION
    }

    /// The (unnormalised) weight of a part whose row of `θ` is `theta`.
    pub fn weight(theta: &[f64; N_FEATURES], f: &[f64; N_FEATURES]) -> f64 {
        let z: f64 = theta.iter().zip(f).map(|(a, b)| a * b).sum();
        z.clamp(LOGIT_RANGE.0, LOGIT_RANGE.1).exp()
    }
}

/// The parts' predictions of every note of a set of melodies (full pitch range), what was
/// played and where: what a gate is fitted on. Kept as `f32` to halve the memory.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Parts per note.
    pub parts: usize,
    /// Per note: notes before it in its melody, its pitch, its rhythm class.
    pub notes: Vec<(u32, u8, u8)>,
    /// Per note and part: the 128 pitch probabilities.
    pub pitch: Vec<f32>,
    /// Per note and part: the rhythm-class probabilities.
    pub rhythm: Vec<f32>,
}

/// Pitches per stored pitch distribution (the whole MIDI range, as evaluation predicts).
const N_PITCH: usize = 128;
const MAGIC: &[u8; 8] = b"CMIXSMP1";

impl Samples {
    /// Runs `parts` over `test_set` as evaluation does (session models start empty on every
    /// melody and learn each note after it is predicted) and keeps their predictions.
    pub fn collect<'a>(
        parts: &mut [Box<dyn Predictor + Send>],
        test_set: impl IntoIterator<Item = &'a Sequence>,
    ) -> Self {
        let mut s = Samples {
            parts: parts.len(),
            ..Default::default()
        };
        let mut out = Prediction::full_range();
        for seq in test_set {
            parts.iter_mut().for_each(|p| p.reset_session());
            let mut h = History::with_capacity(seq.key, seq.events.len());
            for e in &seq.events {
                h.next_phase = e.phase;
                for p in parts.iter_mut() {
                    p.predict(&h, &mut out);
                    s.pitch.extend(out.pitch.iter().map(|&x| x as f32));
                    s.rhythm.extend(out.rhythm.iter().map(|&x| x as f32));
                }
                s.notes.push((h.len() as u32, e.pitch, e.rhythm));
                for p in parts.iter_mut() {
                    p.learn(&h, e);
                }
                h.push(*e);
            }
        }
        s
    }

    /// Writes the samples (little-endian, this module's own layout).
    pub fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(MAGIC)?;
        for v in [self.parts as u64, self.notes.len() as u64] {
            w.write_all(&v.to_le_bytes())?;
        }
        for &(pos, p, r) in &self.notes {
            w.write_all(&pos.to_le_bytes())?;
            w.write_all(&[p, r])?;
        }
        for x in self.pitch.iter().chain(&self.rhythm) {
            w.write_all(&x.to_le_bytes())?;
        }
        Ok(())
    }

    /// Reads what [`Samples::write`] wrote; a wrong magic or a short file is an error.
    pub fn read(r: &mut impl Read) -> anyhow::Result<Self> {
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        anyhow::ensure!(&magic == MAGIC, "not a mix samples file");
        let mut u64s = [0u64; 2];
        for v in &mut u64s {
            let mut b = [0u8; 8];
            r.read_exact(&mut b)?;
            *v = u64::from_le_bytes(b);
        }
        let (parts, n) = (u64s[0] as usize, u64s[1] as usize);
        anyhow::ensure!(
            (1..=8).contains(&parts) && n < 100_000_000,
            "implausible samples header"
        );
        let mut notes = Vec::with_capacity(n);
        for _ in 0..n {
            let mut b = [0u8; 6];
            r.read_exact(&mut b)?;
            notes.push((u32::from_le_bytes([b[0], b[1], b[2], b[3]]), b[4], b[5]));
        }
        let mut floats = |len: usize| -> std::io::Result<Vec<f32>> {
            let mut bytes = vec![0u8; len * 4];
            r.read_exact(&mut bytes)?;
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let pitch = floats(n * parts * N_PITCH)?;
        let rhythm = floats(n * parts * N_RHYTHM)?;
        Ok(Samples {
            parts,
            notes,
            pitch,
            rhythm,
        })
    }

    /// Scores mixing the stored predictions by `rule` through [`mix_into`] (the plugin's code).
    pub fn score(&self, name: &str, rule: &MixRule) -> Scores {
        let mut out = Prediction::full_range();
        let mut outs = Vec::new();
        let (mut pb, mut rb, mut top1, mut top3) = (0.0, 0.0, 0usize, 0usize);
        for (i, &(pos, pitch, rhythm)) in self.notes.iter().enumerate() {
            mix_into(
                &mut outs,
                self.parts,
                rule,
                pos as usize,
                &mut out,
                |k, o| {
                    let at = i * self.parts + k;
                    for (x, &y) in o.pitch.iter_mut().zip(&self.pitch[at * N_PITCH..]) {
                        *x = y as f64;
                    }
                    for (x, &y) in o.rhythm.iter_mut().zip(&self.rhythm[at * N_RHYTHM..]) {
                        *x = y as f64;
                    }
                },
            );
            let p = out.p_pitch(pitch);
            pb -= p.max(FLOOR).log2();
            rb -= out.rhythm[rhythm as usize].max(FLOOR).log2();
            let better = out.pitch.iter().filter(|&&q| q > p).count();
            top1 += (better == 0) as usize;
            top3 += (better < 3) as usize;
        }
        let n = self.notes.len().max(1) as f64;
        Scores {
            name: name.into(),
            melodies: self.notes.iter().filter(|n| n.0 == 0).count(),
            notes: self.notes.len(),
            pitch_bits: pb / n,
            rhythm_bits: rb / n,
            top1: top1 as f64 / n,
            top3: top3 as f64 / n,
        }
    }
}

/// One target's data for fitting: per note and part the log-probabilities of every symbol and
/// the features, and the symbol played.
struct FitData {
    alphabet: usize,
    parts: usize,
    /// Per note, part and symbol: ln p (floored).
    logs: Vec<f32>,
    /// Per note and part.
    feats: Vec<[f64; N_FEATURES]>,
    /// Per note.
    target: Vec<usize>,
}

impl FitData {
    fn new(samples: &[&Samples], pitch: bool) -> Self {
        let alphabet = if pitch { N_PITCH } else { N_RHYTHM };
        let parts = samples.first().map_or(0, |s| s.parts);
        let mut d = FitData {
            alphabet,
            parts,
            logs: Vec::new(),
            feats: Vec::new(),
            target: Vec::new(),
        };
        let mut buf = vec![0.0f64; alphabet];
        for s in samples {
            let dists = if pitch { &s.pitch } else { &s.rhythm };
            for (i, &(pos, p, r)) in s.notes.iter().enumerate() {
                d.target.push(if pitch { p as usize } else { r as usize });
                for k in 0..parts {
                    let at = (i * parts + k) * alphabet;
                    for (b, &x) in buf.iter_mut().zip(&dists[at..at + alphabet]) {
                        *b = x as f64;
                    }
                    d.feats.push(features(&buf, alphabet, pos as usize));
                    d.logs.extend(buf.iter().map(|&x| x.max(FLOOR).ln() as f32));
                }
            }
        }
        d
    }

    /// Mean loss (nats per note) and its gradient with respect to `theta` (one row per part).
    fn loss_grad(&self, theta: &[[f64; N_FEATURES]], geometric: bool) -> (f64, Vec<[f64; 3]>) {
        let (a, k_n) = (self.alphabet, self.parts);
        let mut grad = vec![[0.0; N_FEATURES]; k_n];
        let mut loss = 0.0;
        let mut w = vec![0.0; k_n];
        let mut dz = vec![0.0; k_n];
        let mut e = vec![0.0; a];
        for (i, &y) in self.target.iter().enumerate() {
            let feats = &self.feats[i * k_n..(i + 1) * k_n];
            let logs = &self.logs[i * k_n * a..(i + 1) * k_n * a];
            let mut inside = [true; GATE_PARTS];
            for k in 0..k_n {
                let z: f64 = theta[k].iter().zip(&feats[k]).map(|(t, f)| t * f).sum();
                inside[k] = (LOGIT_RANGE.0..=LOGIT_RANGE.1).contains(&z);
                w[k] = z.clamp(LOGIT_RANGE.0, LOGIT_RANGE.1).exp();
            }
            if geometric {
                e.iter_mut().for_each(|x| *x = 0.0);
                for k in 0..k_n {
                    for (x, &l) in e.iter_mut().zip(&logs[k * a..(k + 1) * a]) {
                        *x += w[k] * l as f64;
                    }
                }
                let m = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = e.iter().map(|&x| (x - m).exp()).sum();
                let log_z = m + z.ln();
                loss += log_z - e[y];
                // d loss / d w_k = E_q[ln p_k] - ln p_k(y); d w_k / d z_k = w_k.
                for k in 0..k_n {
                    let mut expect = 0.0;
                    for (x, &l) in e.iter().zip(&logs[k * a..(k + 1) * a]) {
                        expect += (x - log_z).exp() * l as f64;
                    }
                    dz[k] = w[k] * (expect - logs[k * a + y] as f64);
                }
            } else {
                let sum: f64 = w.iter().sum();
                let mut q = 0.0;
                for k in 0..k_n {
                    w[k] /= sum;
                    q += w[k] * (logs[k * a + y] as f64).exp();
                }
                loss -= q.max(1e-300).ln();
                // d loss / d z_k = w_k - w_k p_k(y) / q.
                for k in 0..k_n {
                    dz[k] = w[k] - w[k] * (logs[k * a + y] as f64).exp() / q.max(1e-300);
                }
            }
            for k in 0..k_n {
                // A clamped logit does not move with θ.
                if !inside[k] {
                    continue;
                }
                for (g, f) in grad[k].iter_mut().zip(&feats[k]) {
                    *g += dz[k] * f;
                }
            }
        }
        let n = self.target.len().max(1) as f64;
        grad.iter_mut().flatten().for_each(|g| *g /= n);
        (loss / n, grad)
    }

    /// Adam from `theta`, full batch, `iters` steps (deterministic).
    fn fit(&self, mut theta: Vec<[f64; 3]>, geometric: bool, iters: usize) -> Vec<[f64; 3]> {
        let (b1, b2, lr) = (0.9, 0.999, 0.03);
        let mut m = vec![[0.0; 3]; theta.len()];
        let mut v = vec![[0.0; 3]; theta.len()];
        for t in 1..=iters {
            let (_, g) = self.loss_grad(&theta, geometric);
            for k in 0..theta.len() {
                for j in 0..N_FEATURES {
                    m[k][j] = b1 * m[k][j] + (1.0 - b1) * g[k][j];
                    v[k][j] = b2 * v[k][j] + (1.0 - b2) * g[k][j] * g[k][j];
                    let mh = m[k][j] / (1.0 - b1.powi(t as i32));
                    let vh = v[k][j] / (1.0 - b2.powi(t as i32));
                    theta[k][j] -= lr * mh / (vh.sqrt() + 1e-8);
                }
            }
        }
        theta
    }
}

/// Fits a gate on `samples` (all with the same number of parts, at most [`GATE_PARTS`]),
/// starting from entropy weights with bias 1 (arithmetic) or equal weights 1/parts
/// (geometric). Returns the gate and the mean loss in bits per note (pitch, rhythm) at the
/// start and at the end.
pub fn fit(samples: &[&Samples], geometric: bool, iters: usize) -> (Gate, [f64; 4]) {
    let parts = samples.first().map_or(0, |s| s.parts);
    let start = if geometric {
        [-(parts.max(1) as f64).ln(), 0.0, 0.0]
    } else {
        [0.0, -1.0, 0.0]
    };
    let mut gate = Gate {
        version: GATE_VERSION,
        geometric,
        parts,
        pitch: [start; GATE_PARTS],
        rhythm: [start; GATE_PARTS],
    };
    let mut bits = [0.0; 4];
    if parts == 0 || parts > GATE_PARTS || samples.iter().any(|s| s.parts != parts) {
        return (gate, bits);
    }
    for (t, pitch) in [(0usize, true), (1, false)] {
        let d = FitData::new(samples, pitch);
        let init = vec![start; parts];
        bits[t] = d.loss_grad(&init, geometric).0 / std::f64::consts::LN_2;
        let theta = d.fit(init, geometric, iters);
        bits[2 + t] = d.loss_grad(&theta, geometric).0 / std::f64::consts::LN_2;
        let rows = if pitch {
            &mut gate.pitch
        } else {
            &mut gate.rhythm
        };
        rows[..parts].copy_from_slice(&theta);
    }
    (gate, bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `notes` notes of `parts` made-up parts (a fixed pseudo-random sequence): part 0 puts
    /// `right` on the target, the others are spread at random.
    fn made_up(notes: usize, parts: usize, right: f64) -> Samples {
        let mut seed = 12345u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64).max(1e-3)
        };
        let mut s = Samples {
            parts,
            ..Default::default()
        };
        for i in 0..notes {
            let (y_p, y_r) = (40 + (i * 7) % 40, (i * 3) % N_RHYTHM);
            s.notes.push(((i % 50) as u32, y_p as u8, y_r as u8));
            for k in 0..parts {
                for (n, y, dst) in [(N_PITCH, y_p, &mut s.pitch), (N_RHYTHM, y_r, &mut s.rhythm)] {
                    let mut d: Vec<f64> = (0..n).map(|_| rnd()).collect();
                    let sum: f64 = d.iter().sum();
                    d.iter_mut().for_each(|x| *x /= sum);
                    if k == 0 {
                        d.iter_mut().for_each(|x| *x *= 1.0 - right);
                        d[y] += right;
                    }
                    dst.extend(d.iter().map(|&x| x as f32));
                }
            }
        }
        s
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let s = made_up(40, 2, 0.3);
        for geometric in [false, true] {
            for pitch in [true, false] {
                let d = FitData::new(&[&s], pitch);
                let theta = vec![[0.2, -0.7, 0.1], [-0.3, -1.2, 0.05]];
                let (_, g) = d.loss_grad(&theta, geometric);
                for k in 0..2 {
                    for j in 0..N_FEATURES {
                        let h = 1e-5;
                        let mut a = theta.clone();
                        let mut b = theta.clone();
                        a[k][j] += h;
                        b[k][j] -= h;
                        let num = (d.loss_grad(&a, geometric).0 - d.loss_grad(&b, geometric).0)
                            / (2.0 * h);
                        assert!(
                            (num - g[k][j]).abs() < 1e-5 * (1.0 + num.abs()),
                            "geometric {geometric} pitch {pitch} θ[{k}][{j}]: {num} vs {}",
                            g[k][j]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn samples_round_trip_and_the_fit_trusts_the_better_part() {
        let s = made_up(300, 2, 0.6);
        let mut bytes = Vec::new();
        s.write(&mut bytes).unwrap();
        let back = Samples::read(&mut bytes.as_slice()).unwrap();
        assert_eq!(back.notes, s.notes);
        assert_eq!(back.pitch, s.pitch);
        assert_eq!(back.rhythm, s.rhythm);
        // A truncated file or another file is an error, not a panic.
        assert!(Samples::read(&mut &bytes[..bytes.len() - 3]).is_err());
        assert!(Samples::read(&mut &b"CMIXSMP0........"[..]).is_err());
        for geometric in [false, true] {
            let (gate, bits) = fit(&[&s], geometric, 200);
            assert!(bits[2] < bits[0] - 0.05, "pitch {bits:?}");
            assert!(bits[3] < bits[1] - 0.05, "rhythm {bits:?}");
            // Scored through the mix itself, the fitted gate beats entropy weighting.
            let fitted = s.score("g", &MixRule::Gated(gate));
            let entropy = s.score(
                "e",
                &MixRule::Entropy {
                    bias: 1.0,
                    geometric,
                },
            );
            assert!(
                fitted.pitch_bits < entropy.pitch_bits,
                "{fitted:?} {entropy:?}"
            );
            assert!(
                (fitted.pitch_bits - bits[2]).abs() < 1e-3,
                "{fitted:?} {bits:?}"
            );
        }
    }
}
