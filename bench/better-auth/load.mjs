// One autocannon run in a process of its own (so that the load generator
// does not share the server's event loop).  Argument: a JSON object with
// url, connections, duration, and either cookies (GET, one cookie per
// request, in rotation) or users (POST sign-in bodies, in rotation).
// Prints autocannon's result as JSON on stdout.
import autocannon from "autocannon";

const cfg = JSON.parse(process.argv[2]);
let i = 0;
const request = cfg.cookies
	? {
			method: "GET",
			setupRequest(req) {
				req.headers = { ...req.headers, cookie: cfg.cookies[i++ % cfg.cookies.length], origin: cfg.origin };
				return req;
			},
		}
	: {
			method: "POST",
			setupRequest(req) {
				const u = cfg.users[i++ % cfg.users.length];
				req.headers = { ...req.headers, "content-type": "application/json", origin: cfg.origin };
				req.body = JSON.stringify({ email: u, password: cfg.password });
				return req;
			},
		};
const result = await autocannon({
	url: cfg.url,
	connections: cfg.connections,
	duration: cfg.duration,
	requests: [request],
});
process.stdout.write(JSON.stringify(result));
