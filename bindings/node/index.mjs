// The ES module entry of kled: `import { Manager } from 'kled'`.
// index.js (CommonJS) is the implementation; this file re-exports it, so an
// application that both imports and requires kled gets one addon and one set
// of classes (`instanceof` holds across the two).
import { createRequire } from 'node:module';

const kled = createRequire(import.meta.url)('./index.js');

export const {
  Manager,
  Terminal,
  ExecResult,
  ExecStream,
  KledError,
  NotFoundError,
  AlreadyExistsError,
  InvalidArgumentError,
  RuntimeUnavailableError,
  InvalidStateError,
  TimeoutError,
  AgentError,
  IoError,
  ConfigError,
  version,
} = kled;
export default kled;
