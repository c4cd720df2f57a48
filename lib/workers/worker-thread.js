'use strict';
/**
 * The code of each worker thread in the pool: it loads job modules and runs their exported
 * functions. It is plain JavaScript so that it runs as it is, from the sources or from `dist/`.
 * Nothing reaches it but structured-cloneable messages: no provider, no shared global.
 */
const { parentPort } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');

const modules = new Map();
const controllers = new Map();

/** The exported function, or a message saying what is missing. */
async function exported(path, name) {
  let loading = modules.get(path);
  if (!loading) {
    loading = import(pathToFileURL(path).href);
    modules.set(path, loading);
  }
  let namespace;
  try {
    namespace = await loading;
  } catch (error) {
    modules.delete(path);
    return { missing: 'module', message: error && error.message ? error.message : String(error) };
  }
  const fn = name === 'default' ? namespace.default : (namespace[name] ?? (namespace.default && namespace.default[name]));
  if (typeof fn !== 'function') return { missing: 'export', message: `"${name}" is not an exported function of the module` };
  return { fn };
}

function serializeError(error) {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

parentPort.on('message', async (message) => {
  switch (message.type) {
    case 'check': {
      const found = await exported(message.module, message.export);
      parentPort.postMessage({ id: message.id, ok: !found.missing, missing: found.missing, message: found.message });
      break;
    }
    case 'run': {
      const found = await exported(message.module, message.export);
      if (found.missing) {
        parentPort.postMessage({ id: message.id, ok: false, error: { name: 'Error', message: found.message } });
        break;
      }
      const controller = new AbortController();
      controllers.set(message.id, controller);
      const { scheduledAt, firedAt, ...rest } = message.context;
      const context = { ...rest, scheduledAt: new Date(scheduledAt), firedAt: new Date(firedAt), signal: controller.signal };
      try {
        await found.fn(context, ...message.args);
        parentPort.postMessage({ id: message.id, ok: true });
      } catch (error) {
        parentPort.postMessage({ id: message.id, ok: false, error: serializeError(error) });
      } finally {
        controllers.delete(message.id);
      }
      break;
    }
    case 'abort':
      controllers.get(message.id)?.abort(new Error(message.reason));
      break;
  }
});
