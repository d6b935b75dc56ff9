/** THROW-AWAY stand-in of the Kamailio engineer's launcher (l-kam wins at merge). */
import dgram from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type Daemon } from './daemons';

export interface RunningKamailio {
  udp: { host: string; port: number };
  ws: string;
  daemon: Daemon;
}

export async function startKamailio(options: {
  udpPort: number;
  wsPort: number;
  sipEdges: Array<{ host: string; port: number }>;
  domain: string;
  runDir: string;
  logFile: string;
}): Promise<RunningKamailio> {
  mkdirSync(options.runDir, { recursive: true });
  const list = join(options.runDir, 'dispatcher.list');
  writeFileSync(list, options.sipEdges.map((e) => `1 sip:${e.host}:${e.port}\n`).join(''));
  const daemon = await startDaemon({
    name: 'Kamailio',
    command: 'kamailio',
    args: [
      '-f',
      join(__dirname, 'kamailio.cfg'),
      '-P',
      join(options.runDir, 'kamailio.pid'),
      '-DD',
      '-E',
      '-A',
      `SIP_PORT=${options.udpPort}`,
      '-A',
      `WS_PORT=${options.wsPort}`,
      '-A',
      `RUN_DIR="${options.runDir}"`,
      '-A',
      `DS_LIST="${list}"`,
    ],
    logFile: options.logFile,
    ready: () => optionsAnswered(options.udpPort),
    readyWithinMs: 5_000,
  });
  return {
    udp: { host: '127.0.0.1', port: options.udpPort },
    ws: `ws://127.0.0.1:${options.wsPort}`,
    daemon,
  };
}

function optionsAnswered(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1', () => {
      const local = socket.address().port;
      const send = (): void => {
        socket.send(
          `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${Date.now()}\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ${Date.now()}@probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
          port,
          '127.0.0.1',
        );
      };
      const timer = setInterval(send, 100);
      socket.on('message', () => {
        clearInterval(timer);
        socket.close();
        resolve();
      });
      send();
    });
  });
}
