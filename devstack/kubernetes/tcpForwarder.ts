// A TCP forwarder, run as a server process of the node: `node tcpForwarder.js <listen host:port> <target host:port>`.
// The API server listens on loopback only; pods reach it through the `kubernetes` Service, whose endpoint is this
// forwarder on the node's bridge address (where only this machine and its pods can connect).
import net from 'node:net';

const [listen, target] = process.argv.slice(2);
const split = (address: string | undefined) => {
  const match = /^(.+):(\d+)$/.exec(address ?? '');
  if (!match) {
    console.error('usage: tcpForwarder <listen host:port> <target host:port>');
    process.exit(2);
  }
  return { host: match[1]!, port: Number(match[2]) };
};
const from = split(listen);
const to = split(target);
const server = net.createServer((client) => {
  const upstream = net.connect(to.port, to.host);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
server.listen(from.port, from.host, () => console.log(`forwarding ${listen} to ${target}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
