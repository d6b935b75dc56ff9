/**
 * THROW-AWAY stand-in of the rtpengine engineer's launcher (l-rtpe wins at merge): real rtpengine
 * in userspace on loopback (FACTS §4), ready when it answers an ng ping.
 */
import dgram from 'node:dgram';
import { startDaemon, type Daemon } from './daemons';

export interface RunningRtpengine {
  ng: { host: '127.0.0.1'; port: number };
  daemon: Daemon;
}

export async function startRtpengine(options: {
  ngPort: number;
  portMin: number;
  portMax: number;
  logFile: string;
}): Promise<RunningRtpengine> {
  const args = [
    '--config-file=none',
    '--table=-1',
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${options.ngPort}`,
    `--port-min=${options.portMin}`,
    `--port-max=${options.portMax}`,
    '--foreground',
    '--log-stderr',
    '--delete-delay=0',
  ];
  const daemon = await startDaemon({
    name: 'rtpengine',
    command: 'rtpengine',
    args,
    logFile: options.logFile,
    ready: () => pingUntilAnswered(options.ngPort),
    readyWithinMs: 5_000,
  });
  return { ng: { host: '127.0.0.1', port: options.ngPort }, daemon };
}

function pingUntilAnswered(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setInterval(() => socket.send('p1 d7:command4:pinge', port, '127.0.0.1'), 100);
    socket.on('message', (message) => {
      if (message.toString().includes('pong')) {
        clearInterval(timer);
        socket.close();
        resolve();
      }
    });
    socket.send('p0 d7:command4:pinge', port, '127.0.0.1');
  });
}
