// The `metrics` namespace as users see it.
export { accuracy } from './metrics';
