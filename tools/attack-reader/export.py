import numpy as np, sys
P=dict(np.load(sys.argv[1]))
def arr(a): return ', '.join('%.6f'%x for x in np.ravel(a))
W1=P['W1']
rows=',\n    '.join('['+arr(W1[f])+']' for f in range(W1.shape[0]))
# argv[2]: how the model was fitted (the train.py command), for the header.
how=sys.argv[2] if len(sys.argv)>2 else 'train.py'
print(f'''//! Weights of the attack reader (`attack_reader.rs`): written by
//! `tools/attack-reader/export.py model.npz` after `{how}`
//! (probes dumped with `--set attack_threshold=2` from dev and the other renders that
//! `tools/attack-reader/README.md` lists); do not edit by hand.

#![allow(clippy::excessive_precision)]

use super::attack_reader::{{Network, FEATURES, HIDDEN}};

/// The shipped network.
pub fn network() -> Network {{
    Network {{
        hidden: HIDDEN_ROWS,
        hidden_bias: HIDDEN_BIAS,
        output: OUTPUT,
        none: {float(P['null'][0]):.6f},
    }}
}}

#[rustfmt::skip]
const HIDDEN_ROWS: [[f32; HIDDEN]; FEATURES] = [
    {rows},
];
#[rustfmt::skip]
const HIDDEN_BIAS: [f32; HIDDEN] = [{arr(P['b1'])}];
#[rustfmt::skip]
const OUTPUT: [f32; HIDDEN] = [{arr(P['w2'])}];''')
