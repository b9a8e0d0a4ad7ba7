// A client as the app's browsers would be: the websocket transport alone, so that a session is
// one connection to one worker. It prints each hello, so a reload shows as a reconnection to the
// new version: `node client.js http://127.0.0.1:3000`.
import { io } from 'socket.io-client';

const socket = io(process.argv[2] ?? 'http://127.0.0.1:3000', { transports: ['websocket'] });
socket.on('hello', (hello) => console.log(`connected to version ${hello.version}, pid ${hello.pid}`));
socket.on('disconnect', (reason) => console.log(`disconnected: ${reason}; reconnecting`));
