// A local server that speaks the Hugging Face Hub's file protocol (interop-facts §2.4) for the
// hub client tests: revision and tree APIs (paginated), resolve HEAD/GET with ETag and
// X-Repo-Commit, LFS files redirected to a "CDN" on another host name (localhost vs 127.0.0.1),
// Range requests, gated repos, and connections dropped mid-file on request.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFile {
  content: Buffer;
  /** Served as an LFS file: 302 to the CDN with X-Linked-Etag = sha256. */
  lfs?: boolean;
}

export interface FakeRepo {
  commit: string;
  files: Record<string, FakeFile>;
  /** Requests without `Authorization: Bearer <token>` get 401 GatedRepo. */
  gatedToken?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly log: LoggedRequest[] = [];
  /** Paths (repo path) whose next GET sends half the body and then drops the connection. */
  readonly dropOnce = new Set<string>();
  /** Paths served with one byte flipped (integrity failure). */
  readonly corrupt = new Set<string>();
  pageSize = 2;
  private server!: Server;
  port = 0;

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  static gitBlobSha1(b: Buffer): string {
    return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
  }

  static sha256(b: Buffer): string {
    return createHash('sha256').update(b).digest('hex');
  }

  private fail(res: ServerResponse, status: number, code: string, commit?: string): void {
    const h: Record<string, string> = { 'x-error-code': code, 'content-type': 'application/json' };
    if (commit) h['x-repo-commit'] = commit;
    res.writeHead(status, h).end(JSON.stringify({ error: code }));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, this.endpoint);
    const path = decodeURIComponent(url.pathname);
    this.log.push({ method: req.method!, path, range: req.headers.range, authorization: req.headers.authorization });
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) return this.serveCdn(cdn[1], req, res);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repoId = decodeURIComponent((api ?? resolve)?.[1] ?? '');
    const repo = this.repos.get(repoId);
    if (!repo) return this.fail(res, 404, 'RepoNotFound');
    if (repo.gatedToken && req.headers.authorization !== `Bearer ${repo.gatedToken}`) return this.fail(res, 401, 'GatedRepo');
    const rev = decodeURIComponent((api?.[3] ?? resolve?.[2])!);
    if (rev !== 'main' && rev !== repo.commit) return this.fail(res, 404, 'RevisionNotFound');
    if (api?.[2] === 'revision') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ id: repoId, sha: repo.commit, siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })) }));
    }
    if (api?.[2] === 'tree') {
      const all = Object.entries(repo.files).map(([p, f]) => ({
        type: 'file',
        path: p,
        size: f.content.length,
        oid: FakeHub.gitBlobSha1(f.content),
        ...(f.lfs ? { lfs: { oid: FakeHub.sha256(f.content), size: f.content.length, pointerSize: 130 } } : {}),
      }));
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const page = all.slice(cursor, cursor + this.pageSize);
      const h: Record<string, string> = { 'content-type': 'application/json' };
      if (cursor + this.pageSize < all.length) {
        h.link = `<${this.endpoint}${url.pathname}?recursive=true&expand=false&cursor=${cursor + this.pageSize}>; rel="next"`;
      }
      res.writeHead(200, h);
      return void res.end(JSON.stringify(page));
    }
    const filePath = resolve![3];
    const file = repo.files[decodeURIComponent(filePath)];
    if (!file) return this.fail(res, 404, 'EntryNotFound', repo.commit);
    if (file.lfs) {
      const sha = FakeHub.sha256(file.content);
      res.writeHead(302, {
        location: `http://localhost:${this.port}/cdn/${sha}`,
        'x-repo-commit': repo.commit,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(file.content.length),
      });
      return void res.end();
    }
    this.serveBytes(decodeURIComponent(filePath), file.content, req, res, { etag: `"${FakeHub.gitBlobSha1(file.content)}"`, 'x-repo-commit': repo.commit });
  }

  private serveCdn(sha: string, req: IncomingMessage, res: ServerResponse): void {
    for (const repo of this.repos.values()) {
      for (const [p, f] of Object.entries(repo.files)) {
        if (f.lfs && FakeHub.sha256(f.content) === sha) return this.serveBytes(p, f.content, req, res, {});
      }
    }
    res.writeHead(404).end();
  }

  private serveBytes(repoPath: string, content: Buffer, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void {
    let body = content;
    if (this.corrupt.has(repoPath)) {
      body = Buffer.from(content);
      body[0] ^= 0xff;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) start = Number(m[1]);
    const part = body.subarray(start);
    const h: Record<string, string> = { ...headers, 'content-length': String(part.length), 'content-type': 'application/octet-stream' };
    if (m) h['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(m ? 206 : 200, h);
    if (req.method === 'HEAD') return void res.end();
    if (this.dropOnce.has(repoPath)) {
      this.dropOnce.delete(repoPath);
      res.write(part.subarray(0, Math.floor(part.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(part);
  }
}
