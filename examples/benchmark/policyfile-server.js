// The npm `policyfile` server (v0.0.6) as operators run it, for the policy
// benchmark. With "fixed" as the second argument its descriptor leak on
// Node 20 is patched: it never reads the request, so it never sees the
// client's EOF and never destroys the socket; resuming the stream does.
//   node policyfile-server.js PORT [fixed]
const pf = require('policyfile');
const port = Number(process.argv[2] || 7844);
const server = pf.createServer({ log: false });
if (process.argv[3] === 'fixed') {
  const respond = server.responder;
  server.responder = function (socket) {
    respond.call(this, socket);
    socket.resume();
    socket.on('end', () => socket.destroy());
  };
}
server.listen(port, () => {});
