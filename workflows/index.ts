// The worker bundles this module: every workflow Refit runs is exported from here.
export { buildDeploy } from './buildDeploy.js';
export { promoteBuild } from './promoteBuild.js';
export { metricTriggerCheck } from './metricTriggerCheck.js';
export { rollbackDeploy } from './rollbackDeploy.js';
export { planRun } from './planRun.js';
export { scaleStatus } from './scaleStatus.js';
export { undeploy } from './undeploy.js';
