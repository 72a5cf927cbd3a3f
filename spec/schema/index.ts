export * from './automation.js';
export * from './build.js';
export * from './common.js';
export * from './condition.js';
export * from './deployment.js';
export * from './notifications.js';
export * from './triggers.js';
