// What the bench worker bundles: Refit's own BuildDeploy, unchanged, and the bare baseline beside it.
export { buildDeploy } from '../../workflows/buildDeploy.js';
export { promoteBuild } from '../../workflows/promoteBuild.js';
export { bareSteps } from './bareSteps.js';
