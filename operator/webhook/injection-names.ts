/**
 * The names the injection writes into pods, fixed by the contract (`/work/contract.md`): the bundle and
 * Python agent read the same paths, and the chart's documentation names the same annotations.
 */
export const ANNOTATION_INJECT = 'sonde.dev/inject';
export const ANNOTATION_CONTAINER = 'sonde.dev/container';
export const ANNOTATION_INJECTED = 'sonde.dev/injected';
export const ANNOTATION_SKIPPED = 'sonde.dev/injection-skipped';
export const LABEL_AGENT = 'sonde.dev/agent';
/** Namespaces labelled so are the only ones the webhook configuration sends pods from. */
export const NAMESPACE_LABEL = 'sonde.dev/injection';

export const AGENT_VOLUME = 'sonde-agent';
export const AGENT_DIR = '/sonde/agent';
export const INIT_CONTAINER = 'sonde-agent';
export const TOKEN_VOLUME = 'sonde-token';
export const TOKEN_DIR = '/var/run/secrets/sonde';
export const TOKEN_FILE = `${TOKEN_DIR}/token`;
export const TOKEN_AUDIENCE = 'sonde';
export const TOKEN_SECONDS = 3600;
export const NODE_PRELOAD = `--require ${AGENT_DIR}/preload.cjs`;
export const PYTHON_DIR = `${AGENT_DIR}/python`;
/** The UID of the init container: "nonroot" in distroless images; any non-zero UID meets `restricted`. */
export const AGENT_UID = 65532;

/** The agent runtimes a pod may ask for. */
export type Runtime = 'node' | 'python';
export const RUNTIMES: readonly Runtime[] = ['node', 'python'];

/** The webhook's path on `--webhook-port`. */
export const WEBHOOK_PATH = '/mutate-v1-pod';
