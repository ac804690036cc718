import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AgentMessage, OperatorMessage } from '../../../src/protocol/messages.js';

export interface AgentConnection {
  ws: WebSocket;
  authorization: string | undefined;
  messages: AgentMessage[];
  closed: boolean;
  send(m: OperatorMessage | object): void;
}

/**
 * The operator's end of the agent protocol, just enough to drive an agent: a real WebSocket server on
 * loopback that records what each connection says and lets the test answer.
 */
export class FakeOperator {
  readonly connections: AgentConnection[] = [];
  private wss!: WebSocketServer;
  port = 0;

  async start(port = 0): Promise<void> {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/v1/agents' });
    await new Promise<void>((resolve) => this.wss.once('listening', resolve));
    this.port = (this.wss.address() as AddressInfo).port;
    this.wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      const c: AgentConnection = {
        ws,
        authorization: req.headers.authorization,
        messages: [],
        closed: false,
        send: (m) => ws.send(JSON.stringify(m)),
      };
      ws.on('message', (data) => c.messages.push(JSON.parse(data.toString()) as AgentMessage));
      ws.on('close', () => (c.closed = true));
      ws.on('error', () => {});
      this.connections.push(c);
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/agents`;
  }

  get last(): AgentConnection | undefined {
    return this.connections[this.connections.length - 1];
  }

  /** Every message of a type over all connections, in order. */
  all<T extends AgentMessage['type']>(type: T): Extract<AgentMessage, { type: T }>[] {
    return this.connections.flatMap((c) => c.messages.filter((m) => m.type === type)) as Extract<AgentMessage, { type: T }>[];
  }

  /** Drops every agent connection and stops listening: the operator is gone. */
  async stop(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
