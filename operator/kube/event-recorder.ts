import { randomBytes } from 'node:crypto';
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_GROUP, API_VERSION, KIND } from '../../src/session/types.js';
import { systemClock, type Clock } from '../clock.js';

/** The object an Event is about. */
export interface EventSubject {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
}

export interface EventRecorderOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  clock?: Clock;
  /** `source.component` / `reportingComponent` (default `sonde-operator`). */
  component?: string;
  /** `reportingInstance`: the operator pod's name, when known. */
  instance?: string;
}

/**
 * Writes core/v1 Events about ProfilingSessions (what `kubectl describe` shows). Best effort: a failed
 * Event is logged and dropped; it never fails the status write or the reconcile that caused it.
 */
export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly component: string;

  constructor(private readonly opts: EventRecorderOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.log = opts.log.child({ module: 'events' });
    this.clock = opts.clock ?? systemClock;
    this.component = opts.component ?? 'sonde-operator';
  }

  /** Records one Event; `reason` is CamelCase (kubectl shows it as is). */
  async record(subject: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date(this.clock.now());
    const body: CoreV1Event = {
      metadata: { name: `${subject.name}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`, namespace: subject.namespace },
      involvedObject: {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: KIND,
        name: subject.name,
        namespace: subject.namespace,
        uid: subject.uid,
        ...(subject.resourceVersion ? { resourceVersion: subject.resourceVersion } : {}),
      },
      reason,
      message: message.slice(0, 1024),
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.component },
      reportingComponent: this.component,
      ...(this.opts.instance ? { reportingInstance: this.opts.instance } : {}),
    };
    try {
      await this.api.createNamespacedEvent({ namespace: subject.namespace, body });
    } catch (err) {
      this.log.warn({ err, session: subject.uid, reason }, 'could not record an Event');
    }
  }
}
