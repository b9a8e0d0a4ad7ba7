// A gRPC server (@grpc/grpc-js), unchanged for hypnode. hypnode drains it as it drains HTTP: on
// a reload each client connection gets a GOAWAY, its calls in flight finish, and the client's next
// calls open a connection to the new code; no call fails. Before a worker counts as ready,
// hypnode asks its server the gRPC health-checking protocol's Check (served below): SERVING.
import { readFileSync } from 'node:fs';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = (name) => new URL(`./${name}`, import.meta.url);
const version = readFileSync(here('version.txt'), 'utf8').trim();
const load = (file) => grpc.loadPackageDefinition(protoLoader.loadSync(new URL(here(file)).pathname, { enums: String }));
const { hello } = load('greeter.proto');
const health = load('health.proto').grpc.health.v1;

const server = new grpc.Server();
server.addService(hello.Greeter.service, {
  SayHello({ request }, done) {
    done(null, { message: `hello ${request.name}`, version, pid: process.pid });
  },
});
server.addService(health.Health.service, {
  Check(_call, done) {
    done(null, { status: 'SERVING' });
  },
});

const address = `${process.env.HOST ?? '0.0.0.0'}:${process.env.PORT ?? 50051}`;
server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`grpc version ${version} listening on ${port}`);
});
