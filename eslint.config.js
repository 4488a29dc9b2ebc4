// The linter of the browser code and its Node tests (`make lint-js`). Flat config, eslint's
// recommended rules and a few that catch what review would: == where === was meant, a
// variable that could be const, a promise nobody waits for in a loop, a shadowed name.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    ignores: ["static/vendor/**", "node_modules/**", ".venv/**"],
  },
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
  },
  {
    // A classic script: served inside one function after static/embed/bridge.js
    // (chatserver/widget.py), whose names it uses.
    files: ["static/embed/loader.js"],
    languageOptions: { sourceType: "script" },
  },
  {
    files: ["tests/js/**/*.mjs", "eslint.config.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.node },
    },
  },
  {
    rules: {
      eqeqeq: ["error", "always"],
      "prefer-const": "error",
      "no-var": "error",
      "no-shadow": "error",
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "none" }],
      "no-promise-executor-return": "error",
      "no-self-compare": "error",
      "no-template-curly-in-string": "error",
      "no-unmodified-loop-condition": "error",
      "no-use-before-define": ["error", { functions: false, classes: false, variables: false }],
      "object-shorthand": ["error", "properties"],
      "prefer-template": "off",
    },
  },
];
