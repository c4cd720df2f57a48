/** Jest's global teardown: stops the private servers the global setup started, if any. */
export { stopPrivateServers as default } from './global-setup';
