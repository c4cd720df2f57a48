/**
 * A Babel plugin for the ES modules Jest turns into CommonJS: a module that declares a binding of
 * its own named `require` (`const require = createRequire(import.meta.url)`, as @nestjs/terminus
 * does) would shadow the `require` the CommonJS output loads its imports with, and fail with
 * "Cannot access '_require' before initialization". The binding is renamed first.
 */
module.exports = function localRequire() {
  return {
    name: 'rename-local-require',
    visitor: {
      Program(path) {
        if (path.scope.hasOwnBinding('require')) path.scope.rename('require', '_localRequire');
      },
    },
  };
};
