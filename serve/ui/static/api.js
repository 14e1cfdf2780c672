// The viewer's HTTP client: every /v1 call with the API key as a header (never in a URL), errors as the
// service wrote them, and the job's server-sent events read from a fetch stream (EventSource cannot send
// headers).

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  static async from(response) {
    let code = "http_error";
    let message = `${response.status} ${response.statusText}`;
    let details = {};
    const text = await response.text().catch(() => "");
    try {
      const body = JSON.parse(text);
      if (body && typeof body === "object") {
        code = body.code || code;
        message = body.message || body.detail || message;
        details = body.details || {};
      }
    } catch {
      if (text) message = text.slice(0, 500);
    }
    return new ApiError(response.status, code, String(message), details);
  }

  describe() {
    return `HTTP ${this.status} ${this.code}: ${this.message}`;
  }
}

export class Api {
  constructor(root) {
    this.root = root; // the service's base URL (where /ui is served), ending in "/"
    this.key = "";
  }

  url(path, params = {}) {
    const url = new URL(path, this.root);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
    return url;
  }

  headers() {
    return this.key ? { "X-API-Key": this.key } : {};
  }

  async request(method, path, { params, body, signal } = {}) {
    let response;
    try {
      response = await fetch(this.url(path, params), { method, headers: this.headers(), body, signal });
    } catch (exc) {
      if (exc.name === "AbortError") throw exc;
      throw new ApiError(0, "unreachable", `the service did not answer: ${exc.message}`);
    }
    if (!response.ok) throw await ApiError.from(response);
    return response;
  }

  async json(method, path, options) {
    return (await this.request(method, path, options)).json();
  }

  // Server-sent events of a stream: yields {event, data} as they arrive (comments and blocks without data, such
  // as keep-alives, are skipped); the stream is cancelled when the caller stops reading.
  async *events(path, signal) {
    const response = await this.request("GET", path, { signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value.replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const chunk = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message";
          const data = [];
          for (const line of chunk.split("\n")) {
            if (line.startsWith(":")) continue;
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (data.length) yield { event, data: data.join("\n") };
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}
