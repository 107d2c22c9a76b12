// The coefficients of the erf/erfc approximation both engines use
// (lib/engines/js/activation-ops.ts, native/core/vec_math.h), shared with the
// ONNX exporter, which spells exact gelu with them in float64 graphs.

/**
 * Chebyshev coefficients of g(s) in erfc(z) = t·exp(−z² + g(s)), t = 2/(2+z),
 * s = 2t − 1, for z ≥ 0 (the change of variable after Numerical Recipes
 * §6.2.2; coefficients computed by test/fixtures/erf_chebyshev.py, relative
 * error of erfc < 1e−17 before rounding). native/core/vec_math.h uses the same.
 */
export const ERFC_CHEBYSHEV = [
  -6.5132685989085472e-1, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.5615147868086316e-3,
  -9.4659534448203687e-4, 3.6683949785276145e-4, 4.2523324806907772e-5, -2.0278578112534243e-5,
  -1.6242900046470255e-6, 1.3036558355805232e-6, 1.5626441722066143e-8, -8.5238095914926543e-8,
  6.5290544390988515e-9, 5.0593434955514687e-9, -9.9136415649303231e-10, -2.2736512229318417e-10,
  9.6467911020149618e-11, 2.394038083065756e-12, -6.8860275265362771e-12, 8.9448792717303675e-13,
  3.1309214081271424e-13, -1.1270822525221732e-13, 3.8108713588528985e-16, 7.1061255369225764e-15,
  -1.5230878975373304e-15, -9.4648714121844619e-17, 1.218683266906788e-16, -3.0494735135424695e-17,
];
