// ONNX export of a Sequential's inference graph (eval mode), encoded with
// protobufjs and the onnx.proto subset in onnx-schema.ts.
//
// The graph is built by two tables keyed by what getConfig() returns, so a new
// layer type or activation is one entry each:
//   LAYER_EXPORTERS[config.type]   a layer → nodes (Dense → Gemm + its activation)
//   ACTIVATION_EXPORTERS[name]     an activation → nodes
// Operator semantics follow the ONNX operator docs (https://onnx.ai/onnx/operators/):
// Gemm computes A·Bᵀ + C with transB = 1, which is torch.nn.Linear with the
// weight stored out × in; Softmax/LogSoftmax since opset 13 act on one axis.
// Inputs are 'input' (batch × inputSize, batch symbolic) and the result 'output'.
import type { Dtype, FloatArray } from '../engine';
import type { LayerConfig } from '../layers';
import { Sequential } from '../sequential';
import { ArgumentRangeError, integer, options, typeError } from '../validate';
import { ERFC_CHEBYSHEV } from '../erfc-chebyshev';
import { filePath, writeFileAtomic } from './files';
import {
  ATTR_FLOAT, ATTR_INT, ATTR_INTS, ATTR_STRING, ONNX_DOUBLE, ONNX_FLOAT, ONNX_INT64, onnxModelType,
} from './onnx-schema';

export interface OnnxExportOptions {
  /** ai.onnx opset, 17 (default; LayerNormalization needs it) to 21. Gelu is native from 20, decomposed below. */
  opset?: number;
}

type Attribute = { name: string; type: number; f?: number; i?: number; s?: Uint8Array; ints?: number[] };

/** Builder state shared by the exporters: nodes, initializers and fresh names. */
export class GraphBuilder {
  readonly nodes: { op_type: string; input: string[]; output: string[]; name: string; attribute: Attribute[] }[] = [];
  readonly initializers: { name: string; dims: number[]; data_type: number; raw_data: Uint8Array }[] = [];
  private counter = 0;

  constructor(readonly dtype: Dtype, readonly opset: number, private readonly weights: Record<string, FloatArray>) {}

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  /** A named parameter of the model (state_dict name) as an initializer; returns its name. */
  param(name: string, dims: number[]): string {
    return this.constant(name, dims, this.values(name));
  }

  /** A named parameter's values (to store rearranged). */
  values(name: string): FloatArray {
    const data = this.weights[name];
    if (!data) throw new Error(`ONNX export: the model has no parameter '${name}'`);
    return data;
  }

  /** A constant tensor of the model's dtype; returns its name. */
  constant(name: string, dims: number[], values: ArrayLike<number>): string {
    const data = this.dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
    this.initializers.push({ name, dims, data_type: this.dtype === 'float32' ? ONNX_FLOAT : ONNX_DOUBLE,
      raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** A constant int64 vector (a Reshape's shape); returns its name. */
  int64s(hint: string, values: readonly number[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [values.length], data_type: ONNX_INT64,
      raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** A scalar constant (shape []), broadcast by the elementwise ops. */
  scalar(hint: string, value: number): string {
    return this.constant(this.fresh(hint), [], [value]);
  }

  /** Appends a node; returns its (single) output name. */
  node(op: string, inputs: string[], attrs: Attribute[] = [], hint = op.toLowerCase()): string {
    const out = this.fresh(hint);
    this.nodes.push({ op_type: op, input: inputs, output: [out], name: `${op}_${this.nodes.length}`, attribute: attrs });
    return out;
  }
}

const f = (name: string, value: number): Attribute => ({ name, type: ATTR_FLOAT, f: value });
const i = (name: string, value: number): Attribute => ({ name, type: ATTR_INT, i: value });
const s = (name: string, value: string): Attribute => ({ name, type: ATTR_STRING, s: Buffer.from(value, 'utf8') });
const ints = (name: string, values: number[]): Attribute => ({ name, type: ATTR_INTS, ints: values });

/** Reads a numeric option of a config, or its default (options other areas add to activations). */
function opt(config: LayerConfig, key: string, fallback: number): number {
  const v = config[key];
  return typeof v === 'number' ? v : fallback;
}

type ActivationExporter = (g: GraphBuilder, x: string, config: LayerConfig) => string;

/** x·Φ(x) with Φ from Erf (exact) or the tanh form, for opsets before Gelu existed (20). */
function geluDecomposed(g: GraphBuilder, x: string, tanhForm: boolean): string {
  let inner: string;
  if (tanhForm) {
    // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))  (Hendrycks & Gimpel 2016)
    const x3 = g.node('Mul', [g.node('Mul', [x, x]), x]);
    const poly = g.node('Add', [x, g.node('Mul', [x3, g.scalar('c', 0.044715)])]);
    inner = g.node('Tanh', [g.node('Mul', [poly, g.scalar('k', Math.sqrt(2 / Math.PI))])]);
  } else {
    inner = g.node('Erf', [g.node('Mul', [x, g.scalar('inv_sqrt2', Math.SQRT1_2)])]);
  }
  const onePlus = g.node('Add', [inner, g.scalar('one', 1)]);
  return g.node('Mul', [g.node('Mul', [x, onePlus]), g.scalar('half', 0.5)]);
}

// float64 graphs: onnxruntime's CPU provider (1.30, opsets 17–21) has no double
// kernel for Elu, Selu, Softplus, LeakyRelu and PRelu (the last two from opset
// 19), fuses x·Sigmoid(x) into a float-only QuickGelu, and runs Gelu's tanh form
// below double precision; and ONNX float attributes would round the parameters
// to float32. So a float64 model spells those activations with elementwise ops
// that have double kernels, the parameters as double constants (torch's formulas:
// torch.nn.ELU, SELU, Softplus, LeakyReLU, PReLU, SiLU docs).

/** x where x > 0, else `negative` (built from x): leaky-relu, elu, prelu. */
function wherePositive(g: GraphBuilder, x: string, negative: string): string {
  return g.node('Where', [g.node('Greater', [x, g.scalar('zero', 0)]), x, negative]);
}

/** α·(eˣ − 1): elu's negative part. */
function eluNegative(g: GraphBuilder, x: string, alpha: number): string {
  return g.node('Mul', [g.node('Sub', [g.node('Exp', [x]), g.scalar('one', 1)]), g.scalar('alpha', alpha)]);
}

/** x·σ(βx) as x / (1 + e^{−βx}): no Sigmoid for the QuickGelu fusion to match. */
function swishDouble(g: GraphBuilder, x: string, beta: number): string {
  const e = g.node('Exp', [g.node('Mul', [x, g.scalar('neg_beta', -beta)])]);
  return g.node('Div', [x, g.node('Add', [e, g.scalar('one', 1)])]);
}

const isDouble = (g: GraphBuilder) => g.dtype === 'float64';

/**
 * Exact gelu x·Φ(x) for float64 graphs, where onnxruntime has no double Erf:
 * Φ(x) = ½·erfc(|x|/√2) for x ≤ 0 and 1 − ½·erfc(|x|/√2) above, with erfc(z) =
 * t·exp(−z² + g(s)), t = 2/(2+z), s = 2t − 1, g a Chebyshev series in s (the
 * engines' own erfc, lib/erfc-chebyshev.ts, summed by Clenshaw's recurrence).
 */
function geluExactDouble(g: GraphBuilder, x: string): string {
  const z = g.node('Mul', [g.node('Abs', [x]), g.scalar('inv_sqrt2', Math.SQRT1_2)]);
  const t = g.node('Div', [g.scalar('two', 2), g.node('Add', [z, g.scalar('two', 2)])]);
  const s2 = g.node('Mul', [g.node('Sub', [g.node('Mul', [t, g.scalar('two', 2)]), g.scalar('one', 1)]), g.scalar('two', 2)]);
  const c = ERFC_CHEBYSHEV;
  // b_j = 2s·b_{j+1} − b_{j+2} + c_j from j = n − 1 down to 1; b_n = b_{n+1} = 0.
  let b1 = g.scalar('c', c[c.length - 1]!);
  let b2 = g.scalar('zero', 0);
  for (let j = c.length - 2; j >= 1; j--) {
    const b = g.node('Add', [g.node('Sub', [g.node('Mul', [s2, b1]), b2]), g.scalar('c', c[j]!)]);
    b2 = b1;
    b1 = b;
  }
  // g(s) = s·b_1 − b_2 + c_0 = ½·(2s)·b_1 − b_2 + c_0.
  const series = g.node('Add', [g.node('Sub', [g.node('Mul', [g.node('Mul', [s2, b1]), g.scalar('half', 0.5)]), b2]),
    g.scalar('c', c[0]!)]);
  const exponent = g.node('Sub', [series, g.node('Mul', [z, z])]);
  const halfErfc = g.node('Mul', [g.node('Mul', [t, g.node('Exp', [exponent])]), g.scalar('half', 0.5)]);
  const phi = g.node('Where', [g.node('Greater', [x, g.scalar('zero', 0)]),
    g.node('Sub', [g.scalar('one', 1), halfErfc]), halfErfc]);
  return g.node('Mul', [x, phi]);
}

/** SELU's fixed constants (Klambauer et al. 2017; torch.nn.SELU). */
const SELU_ALPHA = 1.6732632423543772;
const SELU_LAMBDA = 1.0507009873554805;

/**
 * Activation name (as layers canonicalise it) → ONNX nodes. Parameters are read
 * from the layer config under the names of SPEC.md §2 (alpha, beta, …) with its defaults.
 */
export const ACTIVATION_EXPORTERS: Record<string, ActivationExporter> = {
  identity: (_g, x) => x,
  relu: (g, x) => g.node('Relu', [x]),
  sigmoid: (g, x) => g.node('Sigmoid', [x]),
  tanh: (g, x) => g.node('Tanh', [x]),
  softmax: (g, x) => g.node('Softmax', [x], [i('axis', -1)]),
  'log-softmax': (g, x) => g.node('LogSoftmax', [x], [i('axis', -1)]),
  'leaky-relu': (g, x, c) => (isDouble(g)
    ? wherePositive(g, x, g.node('Mul', [x, g.scalar('slope', opt(c, 'negativeSlope', 0.01))]))
    : g.node('LeakyRelu', [x], [f('alpha', opt(c, 'negativeSlope', 0.01))])),
  elu: (g, x, c) => (isDouble(g)
    ? wherePositive(g, x, eluNegative(g, x, opt(c, 'alpha', 1)))
    : g.node('Elu', [x], [f('alpha', opt(c, 'alpha', 1))])),
  selu: (g, x) => (isDouble(g)
    ? g.node('Mul', [wherePositive(g, x, eluNegative(g, x, SELU_ALPHA)), g.scalar('lambda', SELU_LAMBDA)])
    : g.node('Selu', [x], [f('alpha', SELU_ALPHA), f('gamma', SELU_LAMBDA)])),
  softplus: (g, x, c) => {
    const beta = opt(c, 'beta', 1);
    if (isDouble(g)) {
      // log(1 + e^{βx})/β; e^{βx} may overflow to ∞ only where Where picks x.
      const bx = g.node('Mul', [x, g.scalar('beta', beta)]);
      const smooth = g.node('Div', [g.node('Log', [g.node('Add', [g.node('Exp', [bx]), g.scalar('one', 1)])]), g.scalar('beta', beta)]);
      return g.node('Where', [g.node('Greater', [bx, g.scalar('threshold', opt(c, 'threshold', 20))]), x, smooth]);
    }
    // torch.nn.Softplus: (1/β)·log(1 + e^{βx}), and x itself where βx > threshold.
    // ONNX Softplus has no threshold: Where picks x there (the model's own
    // rule, which a user threshold such as 1 moves far from the smooth curve).
    const bx = beta === 1 ? x : g.node('Mul', [x, g.scalar('beta', beta)]);
    const smooth = beta === 1 ? g.node('Softplus', [x]) : g.node('Div', [g.node('Softplus', [bx]), g.scalar('beta', beta)]);
    return g.node('Where', [g.node('Greater', [bx, g.scalar('threshold', opt(c, 'threshold', 20))]), x, smooth]);
  },
  gelu: (g, x, c) => {
    const tanhForm = c['approximate'] === 'tanh';
    // float64: onnxruntime has no double Erf (its Gelu expands to one), and its tanh-form Gelu is not double-exact.
    if (isDouble(g) && !tanhForm) return geluExactDouble(g, x);
    const native = g.opset >= 20 && !isDouble(g);
    return native ? g.node('Gelu', [x], [s('approximate', tanhForm ? 'tanh' : 'none')]) : geluDecomposed(g, x, tanhForm);
  },
  silu: (g, x) => (isDouble(g) ? swishDouble(g, x, 1) : g.node('Mul', [x, g.node('Sigmoid', [x])])),
  swish: (g, x, c) => (isDouble(g) ? swishDouble(g, x, opt(c, 'beta', 1))
    : g.node('Mul', [x, g.node('Sigmoid', [g.node('Mul', [x, g.scalar('beta', opt(c, 'beta', 1))])])])),
  // torch.nn.Hardtanh / ReLU6 are clamps: ONNX Clip (bounds as inputs since opset 11; double kernels too).
  hardtanh: (g, x, c) => g.node('Clip', [x, g.scalar('min_val', opt(c, 'minVal', -1)), g.scalar('max_val', opt(c, 'maxVal', 1))]),
  relu6: (g, x) => g.node('Clip', [x, g.scalar('zero', 0), g.scalar('six', 6)]),
  // log σ(x) = −softplus(−x) (torch.nn.LogSigmoid); float64 has no Softplus kernel, so
  // min(x, 0) − log(1 + e^{−|x|}) there, whose exponent is ≤ 0 and never overflows.
  logsigmoid: (g, x) => (isDouble(g)
    ? g.node('Sub', [g.node('Min', [x, g.scalar('zero', 0)]),
      g.node('Log', [g.node('Add', [g.node('Exp', [g.node('Neg', [g.node('Abs', [x])])]), g.scalar('one', 1)])])])
    : g.node('Neg', [g.node('Softplus', [g.node('Neg', [x])])])),
};

function activation(g: GraphBuilder, x: string, name: unknown, config: LayerConfig): string {
  const exporter = typeof name === 'string' && Object.hasOwn(ACTIVATION_EXPORTERS, name) ? ACTIVATION_EXPORTERS[name] : undefined;
  if (!exporter) throw new ArgumentRangeError(`ONNX export: no ONNX mapping for activation ${JSON.stringify(name)}`);
  return exporter(g, x, config);
}

/** Context of one layer: its index (the state_dict prefix) and the width coming in. */
export interface LayerContext {
  index: number;
  inFeatures: number;
}

type LayerExporter = (g: GraphBuilder, x: string, config: LayerConfig, ctx: LayerContext) => string;

/**
 * Conv2d on images (batch, C, H, W) without the Conv op, whose onnxruntime
 * kernel is float32 only: im2col in ONNX ops (Chellapilla, Puri, Simard 2006).
 * The zero-padded images, channels last, are sliced once per kernel offset
 * (a, b) with the stride — (batch, OH, OW, C) each — and the slices
 * concatenated on the last axis, so one MatMul with the weight rearranged to
 * rows (a, b, c) × outChannels gives (batch, OH, OW, M); then the bias, and
 * back to (batch, M, OH, OW).
 */
function convDouble(g: GraphBuilder, images: string, c: LayerConfig, index: number,
                    weight = g.values(`${index}.weight`)): string {
  const [inC, outC] = [c['inChannels'] as number, c['outChannels'] as number];
  const [[kh, kw], [sh, sw], [ph, pw], [h, w]] = ['kernelSize', 'stride', 'padding', 'inputSize'].map((k) => c[k] as number[]) as
    [number, number][];
  const [oh, ow] = [Math.floor((h + 2 * ph - kh) / sh) + 1, Math.floor((w + 2 * pw - kw) / sw) + 1];
  const padded = ph + pw > 0 ? g.node('Pad', [images, g.int64s('pads', [0, 0, ph, pw, 0, 0, ph, pw])]) : images;
  const last = g.node('Transpose', [padded], [ints('perm', [0, 2, 3, 1])]);
  const slices: string[] = [];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      slices.push(g.node('Slice', [last, g.int64s('starts', [a, b]), g.int64s('ends', [a + sh * (oh - 1) + 1, b + sw * (ow - 1) + 1]),
        g.int64s('axes', [1, 2]), g.int64s('steps', [sh, sw])]));
    }
  }
  const columns = slices.length === 1 ? slices[0]! : g.node('Concat', slices, [i('axis', 3)]);
  // weight: outC × inC × kh × kw
  const rows = new Float64Array(kh * kw * inC * outC);
  for (let m = 0; m < outC; m++) {
    for (let ch = 0; ch < inC; ch++) {
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) rows[((a * kw + b) * inC + ch) * outC + m] = weight[((m * inC + ch) * kh + a) * kw + b]!;
      }
    }
  }
  const product = g.node('MatMul', [columns, g.constant(g.fresh(`conv${index}_columns_weight`), [kh * kw * inC, outC], rows)]);
  const biased = g.node('Add', [product, g.param(`${index}.bias`, [outC])]);
  return g.node('Transpose', [biased], [ints('perm', [0, 3, 1, 2])]);
}

/**
 * ConvTranspose2d on images (batch, C, H, W) for float64 (no onnxruntime
 * kernel): a transposed convolution is the stride-1 convolution of the input
 * spread out with stride − 1 zeros between its values and padded with
 * kernel − 1 − padding zeros (plus outputPadding at the end), by the kernel
 * flipped in both dimensions with its channel axes swapped (Dumoulin and
 * Visin, "A guide to convolution arithmetic for deep learning", 2016, §4).
 * Negative pads (padding > kernel − 1) crop, as ONNX Pad allows.
 */
function convTransposeDouble(g: GraphBuilder, images: string, c: LayerConfig, index: number): string {
  const [inC, outC] = [c['inChannels'] as number, c['outChannels'] as number];
  const [[kh, kw], [sh, sw], [ph, pw], [oph, opw], [h, w]] = ['kernelSize', 'stride', 'padding', 'outputPadding', 'inputSize']
    .map((k) => c[k] as number[]) as [number, number][];
  // Spread: (batch, C, H, 1, W, 1) padded to (…, H, sh, W, sw), flattened and cut to (H − 1)·sh + 1 by (W − 1)·sw + 1.
  let x = images;
  if (sh > 1 || sw > 1) {
    const six = g.node('Reshape', [images, g.int64s('shape', [-1, inC, h, 1, w, 1])]);
    const spread = g.node('Pad', [six, g.int64s('pads', [0, 0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1])]);
    const four = g.node('Reshape', [spread, g.int64s('shape', [-1, inC, h * sh, w * sw])]);
    x = g.node('Slice', [four, g.int64s('starts', [0, 0]), g.int64s('ends', [(h - 1) * sh + 1, (w - 1) * sw + 1]), g.int64s('axes', [2, 3])]);
  }
  const [th, tw] = [kh - 1 - ph, kw - 1 - pw];
  const framed = g.node('Pad', [x, g.int64s('pads', [0, 0, th, tw, 0, 0, th + oph, tw + opw])]);
  const source = g.values(`${index}.weight`);   // inC × outC × kh × kw
  const flipped = new Float64Array(source.length);   // outC × inC × kh × kw, each kernel rotated 180°
  for (let i = 0; i < inC; i++) {
    for (let o = 0; o < outC; o++) {
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) flipped[((o * inC + i) * kh + a) * kw + b] = source[((i * outC + o) * kh + (kh - 1 - a)) * kw + (kw - 1 - b)]!;
      }
    }
  }
  const spreadSize = [(h - 1) * sh + 1 + th + th + oph, (w - 1) * sw + 1 + tw + tw + opw];
  return convDouble(g, framed, { ...c, stride: [1, 1], padding: [0, 0], inputSize: spreadSize }, index, flipped);
}

/** Layer type (getConfig().type) → ONNX nodes. Parameters come from the model's state_dict names. */
export const LAYER_EXPORTERS: Record<string, LayerExporter> = {
  Dense: (g, x, c, { index, inFeatures }) => {
    const out = c['outFeatures'] as number;
    const w = g.param(`${index}.weight`, [out, inFeatures]);
    const b = g.param(`${index}.bias`, [out]);
    const y = g.node('Gemm', [x, w, b], [i('transB', 1)], `dense${index}`);
    return activation(g, y, c['activation'] ?? 'identity', c);
  },
  Activation: (g, x, c) => activation(g, x, c['activation'], c),
  // Learnable leaky slope (torch.nn.PReLU: weight of num_parameters values, 1 or one per unit);
  // ONNX PRelu broadcasts a [n] slope over (batch, n).
  PReLU: (g, x, c, { index }) => {
    const n = typeof c['numParameters'] === 'number' ? c['numParameters'] : 1;
    const slope = g.param(`${index}.weight`, [n]);
    return isDouble(g) ? wherePositive(g, x, g.node('Mul', [x, slope])) : g.node('PRelu', [x, slope]);
  },
  // Image layers (lib/layers-conv.ts): the rows are NCHW images flattened, so
  // Reshape to (batch, C, H, W), apply the ONNX op (Conv: cross-correlation with
  // weight M × C × kH × kW, as torch; pads [top, left, bottom, right]), and
  // Flatten(axis 1) back to rows.
  Conv2d: (g, x, c, { index }) => {
    const [inC, outC] = [c['inChannels'] as number, c['outChannels'] as number];
    const [kernel, stride, pad, size] = ['kernelSize', 'stride', 'padding', 'inputSize'].map((k) => c[k] as number[]) as number[][];
    const images = g.node('Reshape', [x, g.int64s('shape', [-1, inC, size![0]!, size![1]!])]);
    const y = isDouble(g) ? convDouble(g, images, c, index)
      : g.node('Conv', [images, g.param(`${index}.weight`, [outC, inC, kernel![0]!, kernel![1]!]), g.param(`${index}.bias`, [outC])],
        [ints('kernel_shape', kernel!), ints('strides', stride!), ints('pads', [pad![0]!, pad![1]!, pad![0]!, pad![1]!])], `conv${index}`);
    return activation(g, g.node('Flatten', [y], [i('axis', 1)]), c['activation'] ?? 'identity', c);
  },
  // ONNX ConvTranspose: weight C × M × kH × kW, torch's layout; output_padding at the end of each dimension.
  ConvTranspose2d: (g, x, c, { index }) => {
    const [inC, outC] = [c['inChannels'] as number, c['outChannels'] as number];
    const [kernel, stride, pad, outPad, size] = ['kernelSize', 'stride', 'padding', 'outputPadding', 'inputSize']
      .map((k) => c[k] as number[]) as number[][];
    const images = g.node('Reshape', [x, g.int64s('shape', [-1, inC, size![0]!, size![1]!])]);
    const y = isDouble(g) ? convTransposeDouble(g, images, c, index)
      : g.node('ConvTranspose', [images, g.param(`${index}.weight`, [inC, outC, kernel![0]!, kernel![1]!]), g.param(`${index}.bias`, [outC])],
        [ints('kernel_shape', kernel!), ints('strides', stride!), ints('pads', [pad![0]!, pad![1]!, pad![0]!, pad![1]!]),
          ints('output_padding', outPad!)], `convtranspose${index}`);
    return activation(g, g.node('Flatten', [y], [i('axis', 1)]), c['activation'] ?? 'identity', c);
  },
  MaxPool2d: (g, x, c) => {
    const [kernel, stride, pad, size] = ['kernelSize', 'stride', 'padding', 'inputSize'].map((k) => c[k] as number[]) as number[][];
    const images = g.node('Reshape', [x, g.int64s('shape', [-1, c['channels'] as number, size![0]!, size![1]!])]);
    const y = g.node('MaxPool', [images], [ints('kernel_shape', kernel!), ints('strides', stride!),
      ints('pads', [pad![0]!, pad![1]!, pad![0]!, pad![1]!])]);
    return g.node('Flatten', [y], [i('axis', 1)]);
  },
  // Inference graph: dropout is the identity.
  Dropout: (_g, x) => x,
  // Eval mode: running statistics (torch.nn.BatchNorm1d state_dict names).
  BatchNorm1d: (g, x, c, { index, inFeatures }) => {
    // Without running statistics eval mode normalises with the batch's own: an
    // ONNX model served one request at a time would then see batches of 1 row,
    // whose variance is undefined, so the export refuses rather than mislead.
    if (c['trackRunningStats'] === false) {
      throw new ArgumentRangeError(`ONNX export: layer ${index} (BatchNorm1d) has trackRunningStats false, so its eval output depends on the other rows of the batch; ` +
        'export a model with running statistics (trackRunningStats true, e.g. copy the trained weights into one and run its running statistics over the training data)');
    }
    const n = [inFeatures];
    const affine = c['affine'] !== false;
    const scale = affine ? g.param(`${index}.weight`, n) : g.constant(g.fresh('ones'), n, new Array(inFeatures).fill(1));
    const bias = affine ? g.param(`${index}.bias`, n) : g.constant(g.fresh('zeros'), n, new Array(inFeatures).fill(0));
    return g.node('BatchNormalization',
      [x, scale, bias, g.param(`${index}.running_mean`, n), g.param(`${index}.running_var`, n)],
      [f('epsilon', opt(c, 'eps', 1e-5))]);
  },
  LayerNorm: (g, x, c, { index, inFeatures }) => {
    const n = [inFeatures];
    const affine = c['elementwiseAffine'] !== false;
    const scale = affine ? g.param(`${index}.weight`, n) : g.constant(g.fresh('ones'), n, new Array(inFeatures).fill(1));
    const inputs = affine ? [x, scale, g.param(`${index}.bias`, n)] : [x, scale];
    return g.node('LayerNormalization', inputs, [i('axis', -1), f('epsilon', opt(c, 'eps', 1e-5))]);
  },
};

/** IR version paired with each opset (onnx/helper.py's VERSION_TABLE). */
function irVersionFor(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

function exportOptions(opts: unknown): { opset: number } {
  const o = options('ONNX export options', opts, ['opset']);
  return { opset: o.opset === undefined ? 17 : integer('opset', o.opset, 17, 21) };
}

/** What the exporter needs of a model: its dtype, widths, layer configs and state_dict. */
export interface ExportableModel {
  dtype: Dtype;
  inputSize: number;
  outputSize: number;
  /** In order: each layer's config and output width. */
  layers: { config: LayerConfig; outFeatures: number }[];
  weights: Record<string, FloatArray>;
}

/** ModelProto bytes for a description of a model (the tables do the layers). */
export function buildOnnx(model: ExportableModel, opset: number): Buffer {
  const g = new GraphBuilder(model.dtype, opset, model.weights);
  let x = 'input';
  let width = model.inputSize;
  model.layers.forEach(({ config, outFeatures }, index) => {
    const exporter = Object.hasOwn(LAYER_EXPORTERS, config.type) ? LAYER_EXPORTERS[config.type] : undefined;
    if (!exporter) throw new ArgumentRangeError(`ONNX export: no ONNX mapping for layer ${index} of type '${config.type}'`);
    x = exporter(g, x, config, { index, inFeatures: width });
    width = outFeatures;
  });
  // Name the final value 'output': rename the node that made it (nothing else
  // reads it), or add an Identity when it is not the last node's output.
  if (g.nodes[g.nodes.length - 1]?.output[0] !== x) g.node('Identity', [x]);
  g.nodes[g.nodes.length - 1]!.output[0] = 'output';

  const elem = model.dtype === 'float32' ? ONNX_FLOAT : ONNX_DOUBLE;
  const valueInfo = (name: string, cols: number) => ({
    name,
    type: { tensor_type: { elem_type: elem, shape: { dim: [{ dim_param: 'batch' }, { dim_value: cols }] } } },
  });
  const ModelProto = onnxModelType();
  const message = ModelProto.fromObject({
    ir_version: irVersionFor(opset),
    producer_name: 'fastmlp',
    producer_version: '0.1.0',
    opset_import: [{ domain: '', version: opset }],
    graph: {
      name: 'fastmlp_sequential',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo('input', model.inputSize)],
      output: [valueInfo('output', model.outputSize)],
    },
  });
  return Buffer.from(ModelProto.encode(message).finish());
}

/** The ONNX model (ModelProto bytes) of a Sequential's inference graph. */
export function exportOnnxBuffer(model: Sequential, opts?: OnnxExportOptions): Buffer {
  if (!(model instanceof Sequential)) throw typeError('model', 'a Sequential', model);
  const { opset } = exportOptions(opts);
  let width = model.inputSize;
  const layers = model.layers.map((layer) => {
    width = layer.outFeatures(width);
    return { config: layer.getConfig(), outFeatures: width };
  });
  return buildOnnx({ dtype: model.dtype, inputSize: model.inputSize, outputSize: model.outputSize, layers,
    weights: model.getWeights() }, opset);
}

/** Writes the ONNX model to path (atomically, like model files). */
export async function exportOnnx(model: Sequential, path: string | URL, opts?: OnnxExportOptions): Promise<void> {
  const bytes = exportOnnxBuffer(model, opts);
  await writeFileAtomic(filePath(path), bytes);
}
