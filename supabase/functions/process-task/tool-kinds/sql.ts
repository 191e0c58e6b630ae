// kind `sql`: a Postgres function an operator named, `config.function` as `schema.name`, taking one jsonb
// (the model's arguments) and returning one value. SQL runs it (call_sql_tool) as role
// taskweave_sql_tool, which has no operator or owner rights and cannot SET ROLE back to the worker's
// connection, within the tool's timeout (statement_timeout), and records the outcome in the same
// transaction: a SQL tool's call is atomic, so a call found started without a result never ran and runs
// again without asking anyone. A result over max_output_bytes is cut by SQL. `config.input_schema` is what
// the model is shown (absent: any object). The model gets the value (an object as it is, anything else as
// `{result}`); an error or a timeout is a tool error.
import { configOf, type ToolKind } from './kind.ts';
import { objectSchemaOf } from './http.ts';

export const sqlKind: ToolKind = {
  atomic: true,
  async open(definition, ports) {
    return {
      tools: [{ name: definition.slug, description: definition.description, inputSchema: objectSchemaOf(configOf(definition).input_schema), definition }],
      async call(_tool, _args, _signal, identity) {
        // the recorded arguments are the ones SQL passes: start_tool_call saved them just before
        return { recorded: await ports.callSqlTool(identity, definition.timeout_seconds) };
      },
      async close() {},
    };
  },
};
