// Node's own HTTP/1.1 request parser (llhttp, strict as node's http server runs it) for
// fuzz/differential.py: one base64 request per input line, one JSON result per line.
"use strict";
const { HTTPParser, methods } = require("_http_common");
const readline = require("readline");

function parse(data) {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {});
  const out = { ok: false, complete: false, body: "" };
  parser[HTTPParser.kOnHeaders] = (headers, url) => {
    out.extraHeaders = (out.extraHeaders || []).concat(headers);
    out.extraUrl = (out.extraUrl || "") + url;
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    versionMajor, versionMinor, headers, method, url, statusCode, statusMessage,
    upgrade, shouldKeepAlive,
  ) => {
    if (out.head) return;
    out.head = {
      version: `${versionMajor}.${versionMinor}`,
      headers: headers || out.extraHeaders || [],
      method: methods[method],
      url: url || out.extraUrl || "",
      upgrade,
    };
  };
  parser[HTTPParser.kOnBody] = (chunk) => {
    if (!out.complete) out.body += chunk.toString("latin1");
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    out.complete = true;
  };
  const result = parser.execute(data);
  if (result instanceof Error) {
    // Only the first request is compared: an error in bytes after it does not count.
    if (!out.complete) out.error = result.code || String(result);
  } else if (out.head && out.head.upgrade) {
    out.complete = true; // the rest belongs to the upgraded protocol
  }
  parser.finish();
  out.ok = !out.error;
  return out;
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
  let out;
  try {
    out = parse(Buffer.from(line, "base64"));
  } catch (err) {
    out = { ok: false, error: "EXCEPTION " + err.message };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
