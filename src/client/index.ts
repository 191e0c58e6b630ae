// Taskweave for TypeScript callers: submit, follow, review and cancel runs over the MCP endpoint.
//   const tw = await TaskweaveClient.connect({ url, secret });
//   const { task_id } = await tw.createTask({ title, instructions });
//   const done = await tw.waitForTask({ task_id, timeout_seconds: 50 });
export * from './taskweave-client.ts';
