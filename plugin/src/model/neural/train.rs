//! Training the neural model: truncated back-propagation through time, written out by hand for
//! this one small GRU (no tensor crate: candle 0.11 measured too heavy for the CI time budget,
//! see README *Neural model*). `batch` parallel streams of whole melodies (the state is reset
//! where a melody starts and carried from one chunk of `chunk` notes to the next), AdamW,
//! gradient clipping, the learning rate halved when the validation bits stop falling, early
//! stopping after `patience` such epochs; the weights of the best validation epoch are kept.
//! Single-threaded and seeded, so a seed gives the same weights on every run.

use super::net::{
    dot, inputs, rel_class, sigmoid, softmax, Net, NetShape, NO_STYLE, N_ACTIVE, N_INPUT, N_REL,
    N_STYLE,
};
use crate::model::note::N_RHYTHM;
use crate::model::train::Sequence;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// Hyper-parameters (the defaults are the one setting tried so far, not a search; the validation
/// part of the training files is where a search belongs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainSettings {
    /// GRU hidden units.
    pub hidden: usize,
    /// Parallel streams per batch.
    pub batch: usize,
    /// Notes per chunk (back-propagation length).
    pub chunk: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Largest gradient norm (larger gradients are scaled down to it).
    pub clip: f64,
    pub max_epochs: usize,
    /// Epochs without a better validation score before stopping.
    pub patience: usize,
    /// Wall-clock budget: no new epoch starts after it (the best weights so far are kept).
    pub max_seconds: f64,
    pub seed: u64,
    /// Train a style-conditioned network ([`NetShape::styled`]): every melody's style is an
    /// input.
    pub styled: bool,
    /// With `styled`: the share of training melodies shown with "no style" instead of their
    /// own, drawn anew every epoch (so that the "no style" input, Blend's, learns the mixture).
    pub style_dropout: f64,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            hidden: 128,
            batch: 32,
            chunk: 48,
            learning_rate: 3e-3,
            weight_decay: 1e-4,
            clip: 1.0,
            max_epochs: 30,
            patience: 2,
            max_seconds: 25.0 * 60.0,
            seed: 1,
            styled: false,
            style_dropout: 0.25,
        }
    }
}

/// What happened in training.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainReport {
    pub epochs: usize,
    pub best_epoch: usize,
    /// Validation bits per note of the kept weights.
    pub val_pitch_bits: f64,
    pub val_rhythm_bits: f64,
    /// Per epoch: training bits (pitch + rhythm, mean over the epoch), validation pitch and
    /// rhythm bits.
    pub history: Vec<(f64, f64, f64)>,
    /// A styled network's validation bits (pitch + rhythm) with "no style" per epoch (the
    /// `history` ones are with each melody's own style; the weights kept are those of the
    /// lowest sum of the two). Empty for a network without style inputs.
    pub history_no_style: Vec<f64>,
    /// The kept weights' validation bits (pitch + rhythm) with "no style" (styled networks).
    pub val_no_style_bits: Option<f64>,
    pub seconds: f64,
}

/// One note of a stream: the step's active inputs and its targets.
#[derive(Debug, Clone, Copy)]
struct Token {
    active: [u16; N_ACTIVE],
    /// The style input (an index into the inputs, after [`N_INPUT`]), [`NO_INPUT`] for a
    /// network without style inputs.
    style: u16,
    pitch: u16,
    rhythm: u16,
    /// The first note of a melody (the state is reset before it).
    start: bool,
}

/// [`Token::style`] of a network without style inputs.
const NO_INPUT: u16 = u16::MAX;

/// The input index of style `style` in a network with style inputs (`None` = "no style").
fn style_input(style: Option<u8>) -> u16 {
    (N_INPUT + style.unwrap_or(NO_STYLE).min(NO_STYLE) as usize) as u16
}

/// The active inputs of a token: the note's and, if any, the style's.
fn active_inputs(tok: &Token) -> impl Iterator<Item = usize> + '_ {
    tok.active
        .iter()
        .map(|&a| a as usize)
        .chain((tok.style != NO_INPUT).then_some(tok.style as usize))
}

fn tokens(seq: &Sequence, style: u16) -> impl Iterator<Item = Token> + '_ {
    seq.events.iter().enumerate().map(move |(t, e)| Token {
        active: inputs(&seq.events[..t], e.phase, seq.key),
        style,
        pitch: rel_class(e.pitch, seq.key).min(N_REL - 1) as u16,
        rhythm: (e.rhythm as usize).min(N_RHYTHM - 1) as u16,
        start: t == 0,
    })
}

/// Melodies laid end to end in `batch` streams of about equal length (each melody goes to the
/// shortest stream so far), padded to a whole number of chunks. `styles[i]` is melody `i`'s
/// [`Token::style`] (none: [`NO_INPUT`] for all).
fn streams(
    seqs: &[&Sequence],
    styles: &[u16],
    order: &[usize],
    batch: usize,
    chunk: usize,
) -> Vec<Vec<Option<Token>>> {
    let mut out: Vec<Vec<Option<Token>>> = vec![Vec::new(); batch.max(1)];
    for &i in order {
        if let Some(s) = out.iter_mut().min_by_key(|s| s.len()) {
            let style = styles.get(i).copied().unwrap_or(NO_INPUT);
            s.extend(tokens(seqs[i], style).map(Some));
        }
    }
    let longest = out.iter().map(Vec::len).max().unwrap_or(0);
    let len = longest.div_ceil(chunk.max(1)) * chunk.max(1);
    for s in &mut out {
        s.resize(len, None);
    }
    out
}

/// The weights in training layout (`w_ih` transposed: one row of 3h per input) or their
/// gradients / Adam moments of the same shape.
#[derive(Debug, Clone, PartialEq)]
struct Params {
    h: usize,
    /// Inputs: [`N_INPUT`], plus [`N_STYLE`] for a styled network.
    n_in: usize,
    /// `n_in` rows of 3h.
    w_ih_t: Vec<f32>,
    /// 3h rows of h.
    w_hh: Vec<f32>,
    b_ih: Vec<f32>,
    b_hh: Vec<f32>,
    /// N_REL rows of h.
    w_p: Vec<f32>,
    b_p: Vec<f32>,
    /// N_RHYTHM rows of h.
    w_r: Vec<f32>,
    b_r: Vec<f32>,
}

impl Params {
    fn zeros(h: usize, n_in: usize) -> Self {
        Self {
            h,
            n_in,
            w_ih_t: vec![0.0; n_in * 3 * h],
            w_hh: vec![0.0; 3 * h * h],
            b_ih: vec![0.0; 3 * h],
            b_hh: vec![0.0; 3 * h],
            w_p: vec![0.0; N_REL * h],
            b_p: vec![0.0; N_REL],
            w_r: vec![0.0; N_RHYTHM * h],
            b_r: vec![0.0; N_RHYTHM],
        }
    }

    /// PyTorch's GRU initialisation, U(-1/sqrt(h), 1/sqrt(h)); the heads' biases start at 0.
    fn init(h: usize, n_in: usize, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x6e65_7572_616c);
        let bound = 1.0 / (h as f32).sqrt();
        let mut p = Self::zeros(h, n_in);
        for v in p.parts_mut().into_iter().take(6) {
            for x in v.iter_mut() {
                *x = rng.random_range(-bound..bound);
            }
        }
        p
    }

    /// Every tensor, in a fixed order (the two head biases last).
    fn parts_mut(&mut self) -> [&mut Vec<f32>; 8] {
        [
            &mut self.w_ih_t,
            &mut self.w_hh,
            &mut self.b_ih,
            &mut self.b_hh,
            &mut self.w_p,
            &mut self.w_r,
            &mut self.b_p,
            &mut self.b_r,
        ]
    }

    fn parts(&self) -> [&Vec<f32>; 8] {
        [
            &self.w_ih_t,
            &self.w_hh,
            &self.b_ih,
            &self.b_hh,
            &self.w_p,
            &self.w_r,
            &self.b_p,
            &self.b_r,
        ]
    }

    fn to_net(&self) -> Net {
        let (g, h) = (3 * self.h, self.h);
        let shape = if self.n_in == N_INPUT {
            NetShape::new(h)
        } else {
            NetShape::styled(h)
        };
        Net::from_tensors(
            shape,
            vec![
                super::net::rows_from_columns(&self.w_ih_t, g, self.n_in),
                self.w_hh.clone(),
                self.b_ih.clone(),
                self.b_hh.clone(),
                self.w_p.clone(),
                self.b_p.clone(),
                self.w_r.clone(),
                self.b_r.clone(),
            ],
        )
        .unwrap_or_else(|e| unreachable!("training shapes are the net's: {e}"))
    }
}

/// What the forward pass keeps of one step for the backward pass.
#[derive(Debug, Clone, Default)]
struct Saved {
    h_prev: Vec<f32>,
    r: Vec<f32>,
    z: Vec<f32>,
    n: Vec<f32>,
    /// The recurrent part of the candidate's pre-activation (W_hn h + b_hn).
    gh_n: Vec<f32>,
    h: Vec<f32>,
    p: Vec<f32>,
    q: Vec<f32>,
}

/// `out += s * v`.
#[inline]
fn axpy(out: &mut [f32], s: f32, v: &[f32]) {
    for (o, &x) in out.iter_mut().zip(v) {
        *o += s * x;
    }
}

/// Forward and backward over one stream's chunk: adds the gradients to `grad`, returns the
/// summed pitch and rhythm negative log-likelihoods (nats) and the note count. `h0` is the
/// state carried in; it becomes the state carried out.
fn chunk_grad(
    w: &Params,
    tokens: &[Option<Token>],
    h0: &mut [f32],
    saved: &mut Vec<Saved>,
    grad: &mut Params,
) -> (f64, f64, usize) {
    let hd = w.h;
    let g = 3 * hd;
    let (mut lp, mut lr, mut count) = (0.0f64, 0.0f64, 0usize);
    saved.resize_with(tokens.len(), Default::default);
    let mut gi = vec![0.0f32; g];
    let mut gh = vec![0.0f32; g];
    let mut h = h0.to_vec();
    for (t, tok) in tokens.iter().enumerate() {
        let s = &mut saved[t];
        let Some(tok) = tok else {
            s.p.clear();
            continue;
        };
        if tok.start {
            h.iter_mut().for_each(|x| *x = 0.0);
        }
        s.h_prev.clone_from(&h);
        gi.copy_from_slice(&w.b_ih);
        for a in active_inputs(tok) {
            axpy(&mut gi, 1.0, &w.w_ih_t[a * g..][..g]);
        }
        for (row, o) in w.w_hh.chunks_exact(hd).zip(gh.iter_mut().zip(&w.b_hh)) {
            *o.0 = o.1 + dot(row, &h);
        }
        s.r.resize(hd, 0.0);
        s.z.resize(hd, 0.0);
        s.n.resize(hd, 0.0);
        s.gh_n.resize(hd, 0.0);
        s.h.resize(hd, 0.0);
        for j in 0..hd {
            let r = sigmoid(gi[j] + gh[j]);
            let z = sigmoid(gi[hd + j] + gh[hd + j]);
            let n = (gi[2 * hd + j] + r * gh[2 * hd + j]).tanh();
            s.r[j] = r;
            s.z[j] = z;
            s.n[j] = n;
            s.gh_n[j] = gh[2 * hd + j];
            s.h[j] = (1.0 - z) * n + z * h[j];
        }
        h.copy_from_slice(&s.h);
        s.p.resize(N_REL, 0.0);
        for ((row, b), o) in w.w_p.chunks_exact(hd).zip(&w.b_p).zip(s.p.iter_mut()) {
            *o = b + dot(row, &h);
        }
        softmax(&mut s.p);
        s.q.resize(N_RHYTHM, 0.0);
        for ((row, b), o) in w.w_r.chunks_exact(hd).zip(&w.b_r).zip(s.q.iter_mut()) {
            *o = b + dot(row, &h);
        }
        softmax(&mut s.q);
        lp -= (s.p[tok.pitch as usize].max(1e-30) as f64).ln();
        lr -= (s.q[tok.rhythm as usize].max(1e-30) as f64).ln();
        count += 1;
    }
    h0.copy_from_slice(&h);
    // Backward.
    let mut dh_next = vec![0.0f32; hd];
    let mut dh = vec![0.0f32; hd];
    let mut dgh = vec![0.0f32; g];
    let mut dgi = vec![0.0f32; g];
    for (t, tok) in tokens.iter().enumerate().rev() {
        let Some(tok) = tok else {
            dh_next.iter_mut().for_each(|x| *x = 0.0);
            continue;
        };
        let s = &mut saved[t];
        dh.copy_from_slice(&dh_next);
        // Heads: d logits = p - onehot.
        s.p[tok.pitch as usize] -= 1.0;
        head_backward(&w.w_p, &mut grad.w_p, &mut grad.b_p, &s.p, &s.h, &mut dh);
        s.q[tok.rhythm as usize] -= 1.0;
        head_backward(&w.w_r, &mut grad.w_r, &mut grad.b_r, &s.q, &s.h, &mut dh);
        // GRU cell.
        for j in 0..hd {
            let (r, z, n) = (s.r[j], s.z[j], s.n[j]);
            let dz = dh[j] * (s.h_prev[j] - n);
            let dn = dh[j] * (1.0 - z);
            let da_n = dn * (1.0 - n * n);
            let dr = da_n * s.gh_n[j];
            let da_r = dr * r * (1.0 - r);
            let da_z = dz * z * (1.0 - z);
            dgi[j] = da_r;
            dgi[hd + j] = da_z;
            dgi[2 * hd + j] = da_n;
            dgh[j] = da_r;
            dgh[hd + j] = da_z;
            dgh[2 * hd + j] = da_n * r;
            dh_next[j] = dh[j] * z;
        }
        for a in active_inputs(tok) {
            axpy(&mut grad.w_ih_t[a * g..][..g], 1.0, &dgi);
        }
        axpy(&mut grad.b_ih, 1.0, &dgi);
        axpy(&mut grad.b_hh, 1.0, &dgh);
        for ((row, grow), &d) in w
            .w_hh
            .chunks_exact(hd)
            .zip(grad.w_hh.chunks_exact_mut(hd))
            .zip(dgh.iter())
        {
            axpy(grow, d, &s.h_prev);
            axpy(&mut dh_next, d, row);
        }
        if tok.start {
            // The state before a melody's first note is zero: nothing flows further back.
            dh_next.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    (lp, lr, count)
}

/// Validation bits per note (pitch, rhythm) of `net` on `val`, over all 140 pitch classes as
/// in training (each melody from the zero state), melody `i` with style `styles[i]` (none: no
/// style).
fn validate(net: &Net, val: &[&Sequence], styles: &[Option<u8>]) -> (f64, f64) {
    let mut scratch = super::net::Scratch::default();
    let hd = net.hidden();
    let (mut h, mut h2) = (vec![0.0f32; hd], vec![0.0f32; hd]);
    let (mut p, mut q) = ([0.0f32; N_REL], [0.0f32; N_RHYTHM]);
    let (mut bp, mut br, mut n) = (0.0f64, 0.0f64, 0usize);
    for (i, seq) in val.iter().enumerate() {
        h.iter_mut().for_each(|x| *x = 0.0);
        let style = styles.get(i).copied().flatten();
        for tok in tokens(seq, NO_INPUT) {
            net.step_styled(&h, &tok.active, style, &mut scratch, &mut h2);
            std::mem::swap(&mut h, &mut h2);
            net.heads(&h, &mut p, &mut q);
            bp -= (p[tok.pitch as usize].max(1e-30) as f64).log2();
            br -= (q[tok.rhythm as usize].max(1e-30) as f64).log2();
            n += 1;
        }
    }
    let n = n.max(1) as f64;
    (bp / n, br / n)
}

/// AdamW state.
struct Adam {
    m: Params,
    v: Params,
    t: i32,
}

impl Adam {
    fn step(&mut self, w: &mut Params, g: &Params, lr: f64, decay: f64) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.t += 1;
        let c1 = 1.0 - B1.powi(self.t);
        let c2 = 1.0 - B2.powi(self.t);
        let lr = lr as f32;
        for (k, (((wp, gp), mp), vp)) in w
            .parts_mut()
            .into_iter()
            .zip(g.parts())
            .zip(self.m.parts_mut())
            .zip(self.v.parts_mut())
            .enumerate()
        {
            // Decay the weight matrices, not the biases.
            let wd = if matches!(k, 0 | 1 | 4 | 5) {
                decay as f32
            } else {
                0.0
            };
            for (((x, &d), m), v) in wp
                .iter_mut()
                .zip(gp.iter())
                .zip(mp.iter_mut())
                .zip(vp.iter_mut())
            {
                *m = B1 * *m + (1.0 - B1) * d;
                *v = B2 * *v + (1.0 - B2) * d * d;
                let mh = *m / c1;
                let vh = *v / c2;
                *x -= lr * (mh / (vh.sqrt() + 1e-8) + wd * *x);
            }
        }
    }
}

/// Trains a network on `train` with early stopping on `val`. `progress(epoch, batch, batches,
/// last training bits)` is called after every batch, `epoch_done(epoch, train bits, validation
/// pitch bits, validation rhythm bits, validation bits with "no style" for a styled network)`
/// after every epoch.
pub fn train_neural(
    train: &[&Sequence],
    val: &[&Sequence],
    s: &TrainSettings,
    progress: impl FnMut(usize, usize, usize, f64),
    epoch_done: impl FnMut(usize, f64, f64, f64, Option<f64>),
) -> anyhow::Result<(Net, TrainReport)> {
    train_neural_styled(train, &[], val, &[], s, progress, epoch_done)
}

/// [`train_neural`] with each melody's style (`train_styles[i]` is `train[i]`'s
/// [`super::net::style_index`], `None` for a melody of no known style; the same for `val`).
/// With `s.styled` the network has style inputs; without, the styles are not used. With
/// style inputs, the weights kept are those of the lowest sum of the validation bits with each
/// melody's own style and with "no style" (the plugin uses both: a chosen style, and Blend).
pub fn train_neural_styled(
    train: &[&Sequence],
    train_styles: &[Option<u8>],
    val: &[&Sequence],
    val_styles: &[Option<u8>],
    s: &TrainSettings,
    mut progress: impl FnMut(usize, usize, usize, f64),
    mut epoch_done: impl FnMut(usize, f64, f64, f64, Option<f64>),
) -> anyhow::Result<(Net, TrainReport)> {
    if train.is_empty() || val.is_empty() {
        anyhow::bail!("the neural model needs training and validation melodies");
    }
    if s.hidden == 0 || s.batch == 0 || s.chunk == 0 || s.hidden > super::file::MAX_HIDDEN {
        anyhow::bail!("hidden size (1..=2048), batch and chunk must be positive");
    }
    if s.styled && (train_styles.len() != train.len() || val_styles.len() != val.len()) {
        anyhow::bail!("a styled network needs every training and validation melody's style");
    }
    if !(0.0..=1.0).contains(&s.style_dropout) {
        anyhow::bail!("the style dropout is a share, 0..=1");
    }
    let n_in = if s.styled { N_INPUT + N_STYLE } else { N_INPUT };
    let started = Instant::now();
    let mut w = Params::init(s.hidden, n_in, s.seed);
    let mut grad = Params::zeros(s.hidden, n_in);
    let mut adam = Adam {
        m: Params::zeros(s.hidden, n_in),
        v: Params::zeros(s.hidden, n_in),
        t: 0,
    };
    let mut rng = SmallRng::seed_from_u64(s.seed);
    // The style dropout's own generator, so the melody order is the same with and without it.
    let mut style_rng = SmallRng::seed_from_u64(s.seed ^ 0x0073_7479_6c65);
    let mut epoch_styles: Vec<u16> = Vec::new();
    let mut report = TrainReport::default();
    let mut best = f64::INFINITY;
    let mut best_net = w.to_net();
    let mut lr = s.learning_rate;
    let mut bad = 0;
    let mut saved = Vec::new();
    for epoch in 1..=s.max_epochs {
        if epoch > 1 && started.elapsed().as_secs_f64() > s.max_seconds {
            break;
        }
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut rng);
        if s.styled {
            epoch_styles.clear();
            epoch_styles.extend(train_styles.iter().map(|&st| {
                let drop = style_rng.random_bool(s.style_dropout);
                style_input(if drop { None } else { st })
            }));
        }
        let st = streams(train, &epoch_styles, &order, s.batch, s.chunk);
        let len = st.first().map_or(0, Vec::len);
        let batches = len / s.chunk;
        let mut carry = vec![vec![0.0f32; s.hidden]; st.len()];
        let (mut sum_bits, mut sum_n) = (0.0, 0usize);
        for bi in 0..batches {
            for p in grad.parts_mut() {
                p.iter_mut().for_each(|x| *x = 0.0);
            }
            let (mut nats, mut n) = (0.0, 0usize);
            for (stream, h0) in st.iter().zip(carry.iter_mut()) {
                let (lp, lr_, c) = chunk_grad(
                    &w,
                    &stream[bi * s.chunk..][..s.chunk],
                    h0,
                    &mut saved,
                    &mut grad,
                );
                nats += lp + lr_;
                n += c;
            }
            if n == 0 {
                continue;
            }
            let scale = 1.0 / n as f32;
            let mut norm2 = 0.0f64;
            for p in grad.parts_mut() {
                for x in p.iter_mut() {
                    *x *= scale;
                    norm2 += (*x as f64) * (*x as f64);
                }
            }
            let norm = norm2.sqrt();
            if !norm.is_finite() {
                continue;
            }
            if norm > s.clip {
                let c = (s.clip / norm) as f32;
                for p in grad.parts_mut() {
                    p.iter_mut().for_each(|x| *x *= c);
                }
            }
            adam.step(&mut w, &grad, lr, s.weight_decay);
            let bits = nats * std::f64::consts::LOG2_E;
            sum_bits += bits;
            sum_n += n;
            progress(epoch, bi + 1, batches, bits / n as f64);
        }
        let net = w.to_net();
        let (vp, vr) = validate(&net, val, if s.styled { val_styles } else { &[] });
        let no_style = s.styled.then(|| {
            let (p, r) = validate(&net, val, &[]);
            p + r
        });
        let train_bits = sum_bits / sum_n.max(1) as f64;
        report.history.push((train_bits, vp, vr));
        report.history_no_style.extend(no_style);
        report.epochs = epoch;
        epoch_done(epoch, train_bits, vp, vr, no_style);
        let score = vp + vr + no_style.unwrap_or(0.0);
        if score < best - 1e-3 {
            best = score;
            best_net = net;
            report.best_epoch = epoch;
            report.val_pitch_bits = vp;
            report.val_rhythm_bits = vr;
            report.val_no_style_bits = no_style;
            bad = 0;
        } else {
            bad += 1;
            if bad >= s.patience {
                break;
            }
            lr *= 0.5;
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok((best_net, report))
}

/// Back-propagates one output head: `d` holds d loss / d logits (one per row of `w`, rows of
/// `h.len()` weights); adds its gradient to `grad_w` and `grad_b`, and `wᵀ d` to `dh`.
fn head_backward(
    w: &[f32],
    grad_w: &mut [f32],
    grad_b: &mut [f32],
    d: &[f32],
    h: &[f32],
    dh: &mut [f32],
) {
    let hd = h.len();
    for ((row, grow), (&dk, gb)) in w
        .chunks_exact(hd)
        .zip(grad_w.chunks_exact_mut(hd))
        .zip(d.iter().zip(grad_b.iter_mut()))
    {
        axpy(dh, dk, row);
        axpy(grow, dk, h);
        *gb += dk;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::eval::evaluate;
    use crate::model::neural::predictor::NeuralPredictor;
    use crate::model::note::Event;
    use crate::music::KeySignature;
    use std::sync::Arc;

    /// Tunes of a few repeated patterns in two keys.
    fn tunes(n: usize, offset: usize) -> Vec<Sequence> {
        let patterns: [&[u8]; 3] = [
            &[0, 2, 4, 5, 7, 5, 4, 2],
            &[7, 4, 0, 4, 7, 12, 7, 4],
            &[0, 0, 7, 7, 9, 9, 7, 5],
        ];
        (0..n)
            .map(|i| {
                let k = (i + offset) % 2;
                let key = KeySignature {
                    tonic: [0, 7][k],
                    ..Default::default()
                };
                let pat = patterns[(i + offset) % 3];
                let events = (0..24)
                    .map(|j| Event {
                        pitch: 60 + key.tonic + pat[j % pat.len()],
                        rhythm: if j % 4 == 3 { 8 } else { 5 },
                        phase: if j % 4 == 1 { 6 } else { 0 },
                    })
                    .collect();
                Sequence { events, key }
            })
            .collect()
    }

    /// The hand-written gradient is the derivative of the loss: a central difference on a few
    /// weights of every tensor agrees with it, without and with style inputs (the last input
    /// row checked is then the "no style" input's, which the second melody uses).
    #[test]
    fn gradient_matches_finite_differences() {
        let seqs = tunes(2, 0);
        let refs: Vec<&Sequence> = seqs.iter().collect();
        for styled in [false, true] {
            let (n_in, styles) = if styled {
                (
                    N_INPUT + N_STYLE,
                    vec![style_input(Some(2)), style_input(None)],
                )
            } else {
                (N_INPUT, vec![])
            };
            // Both melodies in the 30 tokens checked.
            let st = streams(&refs, &styles, &[0, 1], 1, 64);
            check_gradient(&st[0][..30], n_in);
        }
    }

    fn check_gradient(toks: &[Option<Token>], n_in: usize) {
        let w = Params::init(5, n_in, 7);
        let loss = |w: &Params| {
            let mut g = Params::zeros(5, n_in);
            let mut h0 = vec![0.0; 5];
            let (a, b, _) = chunk_grad(w, toks, &mut h0, &mut Vec::new(), &mut g);
            a + b
        };
        let mut grad = Params::zeros(5, n_in);
        chunk_grad(&w, toks, &mut [0.0; 5], &mut Vec::new(), &mut grad);
        let eps = 1e-2f32;
        for k in 0..8 {
            let n = grad.parts()[k].len();
            for &i in &[0, n / 3, n - 1] {
                // Input rows that no token uses have zero gradient either way.
                let mut plus = w.clone();
                plus.parts_mut()[k][i] += eps;
                let mut minus = w.clone();
                minus.parts_mut()[k][i] -= eps;
                let numeric = (loss(&plus) - loss(&minus)) / (2.0 * eps as f64);
                let analytic = grad.parts()[k][i] as f64;
                assert!(
                    (numeric - analytic).abs() < 2e-2 * (1.0 + analytic.abs()),
                    "tensor {k} index {i}: numeric {numeric} analytic {analytic}"
                );
            }
        }
    }

    /// The tiny network CI trains: 16 units, small batches and chunks, a fast learning rate.
    fn tiny_settings(max_epochs: usize, patience: usize) -> TrainSettings {
        TrainSettings {
            hidden: 16,
            batch: 4,
            chunk: 8,
            learning_rate: 1e-2,
            max_epochs,
            patience,
            ..Default::default()
        }
    }

    /// CI's training run: a tiny network on a few melodies learns them (far below the uniform
    /// 7.1 + 4 bits), the same seed gives the same weights, and the predictor scores the
    /// validation melodies as the training's own validation did.
    #[test]
    fn tiny_training_learns_is_deterministic_and_matches_inference() {
        let train = tunes(12, 0);
        let val = tunes(3, 1);
        let (tr, va): (Vec<&Sequence>, Vec<&Sequence>) =
            (train.iter().collect(), val.iter().collect());
        let s = tiny_settings(15, 3);
        let (net, report) =
            train_neural(&tr, &va, &s, |_, _, _, _| {}, |_, _, _, _, _| {}).unwrap();
        assert!(report.epochs >= 2, "{report:?}");
        let first = report.history[0];
        assert!(
            report.val_pitch_bits < first.1,
            "validation improved: {report:?}"
        );
        assert!(
            report.val_pitch_bits < 3.0 && report.val_rhythm_bits < 1.5,
            "{report:?}"
        );
        let (again, _) = train_neural(&tr, &va, &s, |_, _, _, _| {}, |_, _, _, _, _| {}).unwrap();
        assert_eq!(net, again, "same seed, same weights");
        assert!(!net.has_style() && report.history_no_style.is_empty());
        let mut p = NeuralPredictor::from_net("n", Arc::new(net));
        let scores = evaluate(&mut p, va.iter().copied());
        // Rhythm: the same numbers. Pitch: the evaluation renormalises over the MIDI pitches
        // (the classes below pitch 0 get nothing), so it can only score a little lower.
        assert!(
            (scores.rhythm_bits - report.val_rhythm_bits).abs() < 1e-3,
            "{scores:?} {report:?}"
        );
        let gap = report.val_pitch_bits - scores.pitch_bits;
        assert!((-1e-3..0.2).contains(&gap), "{scores:?} {report:?}");
    }

    /// A styled network learns what the style tells: two "styles" play the same opening and
    /// then part ways, so told the style, the network predicts the validation melodies better
    /// than told "no style" (which still works: the style dropout trained it).
    #[test]
    fn tiny_styled_training_uses_the_style() {
        let melody = |style: usize, i: usize| {
            let key = KeySignature {
                tonic: [0, 5][i % 2],
                ..Default::default()
            };
            let tail: [u8; 4] = if style == 0 {
                [5, 4, 2, 0]
            } else {
                [9, 11, 12, 7]
            };
            let pat: Vec<u8> = [0u8, 2, 4, 7].iter().chain(&tail).copied().collect();
            let events = (0..16)
                .map(|j| Event {
                    pitch: 60 + key.tonic + pat[j % pat.len()],
                    rhythm: 5,
                    phase: 6 * (j % 2) as u8,
                })
                .collect();
            Sequence { events, key }
        };
        let train: Vec<Sequence> = (0..16).map(|i| melody(i % 2, i / 2)).collect();
        let val: Vec<Sequence> = (0..4).map(|i| melody(i % 2, i / 2 + 1)).collect();
        let styles =
            |n: usize| -> Vec<Option<u8>> { (0..n).map(|i| Some((i % 2) as u8)).collect() };
        let (tr, va): (Vec<&Sequence>, Vec<&Sequence>) =
            (train.iter().collect(), val.iter().collect());
        let s = TrainSettings {
            styled: true,
            ..tiny_settings(20, 4)
        };
        let (net, report) = train_neural_styled(
            &tr,
            &styles(tr.len()),
            &va,
            &styles(va.len()),
            &s,
            |_, _, _, _| {},
            |_, _, _, _, _| {},
        )
        .unwrap();
        assert!(net.has_style());
        let with_style = report.val_pitch_bits + report.val_rhythm_bits;
        let no_style = report.val_no_style_bits.unwrap();
        assert_eq!(report.history_no_style.len(), report.epochs);
        assert!(
            with_style + 0.05 < no_style,
            "told the style {with_style:.3} bits, no style {no_style:.3}: {report:?}"
        );
        assert!(no_style < 4.0, "no style still predicts: {report:?}");
        // The predictor, told the style, agrees with the training's validation (rhythm: the
        // same numbers).
        let mut p = NeuralPredictor::from_net("n", Arc::new(net.clone())).with_style(Some(0));
        let zeros: Vec<&Sequence> = va.iter().step_by(2).copied().collect();
        let scored = evaluate(&mut p, zeros.iter().copied());
        let mut p = NeuralPredictor::from_net("n", Arc::new(net)).with_style(None);
        let blind = evaluate(&mut p, zeros.iter().copied());
        assert!(scored.pitch_bits < blind.pitch_bits, "{scored:?} {blind:?}");
        let _ = report;
    }
}
