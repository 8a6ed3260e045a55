// Lint Cypher statements with Neo4j's own Cypher 5 front end (@neo4j-cypher/language-support,
// installed by `make cypher-ls` into .node/): syntax, semantic analysis, functions and procedures
// against a Neo4j 5 registry, parameters against the ones each statement declares, and labels,
// relationship types and property keys against the graph model.
//
// stdin:  {"schema": {"labels": [...], "relationshipTypes": [...], "propertyKeys": [...]},
//          "statements": [{"name": ..., "cypher": ..., "params": {...}}, ...]}
// stdout: [{"name": ..., "diagnostics": [{"severity": 1|2, "message": ...}]}, ...]
//         (severity 1 is an error, 2 a warning such as a deprecation or an unknown label)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const root = process.env.CYPHER_LS_DIR;  // the folder npm installed into
const require = createRequire(`${root}/package.json`);
const { lintCypherQuery, testData } = require('@neo4j-cypher/language-support');

// The functions and procedures of a Neo4j 5 server, as the package ships them for its own tests:
// what an unknown function or procedure is checked against.
const registry = testData.mockSchema;
const input = JSON.parse(readFileSync(0, 'utf8'));
const out = input.statements.map(({ name, cypher, params }) => {
  const schema = {
    ...input.schema,
    functions: registry.functions,
    procedures: registry.procedures,
    parameters: params,
    defaultLanguage: 'CYPHER 5',
  };
  const { diagnostics } = lintCypherQuery(cypher, schema);
  return { name, diagnostics: diagnostics.map((d) => ({ severity: d.severity, message: d.message })) };
});
process.stdout.write(JSON.stringify(out));
