// When a request body is refused for its size, the runtime would otherwise close the connection
// under a client that is still writing or about to reuse it (seen as ECONNRESET on its next
// request). Reading and discarding a moderately large body keeps the connection usable; a body
// declared larger than `maxDrainBytes` is not worth reading and is left to the runtime.
export async function drainBody(request: Request, maxDrainBytes = 4 * 1024 * 1024): Promise<void> {
  const declared = Number(request.headers.get("Content-Length") ?? Number.NaN);
  if (!request.body || request.bodyUsed || !(declared <= maxDrainBytes)) return;
  const reader = request.body.getReader();
  let read = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > maxDrainBytes) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // the client went away; nothing to keep alive
  }
}
