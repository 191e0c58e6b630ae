// The tool kinds, by the name in tools.kind. A new kind is one file in this folder, one line here, and
// the kind's name in the tools_kind_check constraint (a migration).
import type { ToolKind } from './kind.ts';
import { httpKind } from './http.ts';
import { mcpKind } from './mcp.ts';
import { sqlKind } from './sql.ts';

export const TOOL_KINDS: Readonly<Record<string, ToolKind>> = {
  mcp: mcpKind,
  http: httpKind,
  sql: sqlKind,
};
