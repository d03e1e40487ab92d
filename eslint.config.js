// ESLint: the import graph stays a tree (no cycles) and imports read in one order; formatting is
// Prettier's (.prettierrc.json). `npm run lint` runs both; .ci/run runs it before the tests.
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import importX from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      ".tools/**",
      ".wrangler/**",
      ".build/**",
      "policies/build/**",
      "test/fixtures/opa/**",
      "**/*.generated.*",
    ],
  },
  {
    files: ["**/*.ts", "**/*.mjs", "**/*.js"],
    languageOptions: { parser: tseslint.parser, ecmaVersion: "latest", sourceType: "module" },
    plugins: { import: importX, "@typescript-eslint": tseslint.plugin },
    settings: {
      "import-x/resolver-next": [
        createTypeScriptImportResolver({
          project: ["tsconfig.json", "tsconfig.node.json"],
          noWarnOnMultipleProjects: true,
        }),
      ],
      "import-x/extensions": [".ts", ".js", ".mjs"],
    },
    rules: {
      "import/no-cycle": ["error", { ignoreExternal: true }],
      "import/no-self-import": "error",
      "import/no-duplicates": "error",
      "import/first": "error",
      "import/order": [
        "error",
        {
          groups: ["builtin", "external", ["internal", "parent", "sibling", "index"]],
          "newlines-between": "never",
          alphabetize: { order: "asc", caseInsensitive: true },
        },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
    },
  },
);
