import Foundation
import Hummingbird
import PacerModel
import PacerServerKit

#if canImport(Glibc)
import Glibc
#endif

/// Task sandboxes' files, served the way Mesos's agent serves them (`/files/browse|read|download`),
/// for paths `TASK_ID[/path/inside/its/sandbox]` — and not one byte outside a sandbox (A4): the
/// path is checked before anything is opened (no `..`, no absolute path, no NUL, no empty part),
/// then opened one component at a time beneath the sandbox root with `O_NOFOLLOW`, so a symlink
/// a task planted (to `/etc/passwd`, or to `/`) is refused instead of followed.
struct SandboxFiles: Sendable {
    let root: String
    /// The most one read returns; a client pages with `offset`.
    static let maxRead = 1 << 20

    struct Entry: Encodable, Sendable {
        var path: String
        var size: Int
        var mtime: Double
        var mode: String
    }

    struct Chunk: Encodable, Sendable {
        var data: String
        var offset: Int
    }

    /// Why a path is not served, as the HTTP status the API answers.
    struct Refusal: Error, Sendable {
        var status: Int
        var message: String
        var apiError: APIError { APIError(status: status, message: message) }
    }

    /// The parts of `path`, or a refusal when it could point anywhere but beneath the root.
    static func components(_ path: String) throws(Refusal) -> [String] {
        guard !path.isEmpty else { throw Refusal(status: 400, message: "path: name a task id, then a file in its sandbox") }
        guard !path.hasPrefix("/") else {
            throw Refusal(status: 400, message: "path: relative to the sandboxes (TASK_ID/file), not absolute")
        }
        guard !path.utf8.contains(0) else { throw Refusal(status: 400, message: "path: contains NUL") }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let trimmed = parts.last == "" ? Array(parts.dropLast()) : parts  // "TASK/" is the directory
        for part in trimmed where part.isEmpty || part == "." || part == ".." {
            throw Refusal(
                status: 400, message: "path: '\(part.isEmpty ? "//" : part)' is not allowed; name files inside the sandbox")
        }
        return trimmed
    }

    /// Opens `path` beneath the root: directories along the way, then the last part as a
    /// directory or as a regular file.
    func open(_ path: String, directory: Bool) throws(Refusal) -> Int32 {
        let parts = try Self.components(path)
        var fd = Glibc.open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Refusal(status: 404, message: "no sandboxes on this agent yet") }
        for (i, part) in parts.enumerated() {
            let last = i == parts.count - 1
            let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (!last || directory ? O_DIRECTORY : O_NONBLOCK)
            let next = openat(fd, part, flags)
            var error = errno
            if next < 0 {
                // Linux says ENOTDIR, not ELOOP, for a link opened as a directory: ask what it is.
                var info = stat()
                if fstatat(fd, part, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFLNK { error = ELOOP }
            }
            close(fd)
            guard next >= 0 else { throw Self.refusal(error, path: path) }
            fd = next
        }
        if !directory {
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw Refusal(status: 400, message: "\(path) is not a regular file")
            }
        }
        return fd
    }

    private static func refusal(_ error: Int32, path: String) -> Refusal {
        switch error {
        case ENOENT: return Refusal(status: 404, message: "\(path): no such file")
        case ELOOP: return Refusal(status: 403, message: "\(path): a symbolic link; links are not followed out of a sandbox")
        case ENOTDIR: return Refusal(status: 400, message: "\(path): a file where a directory was expected")
        case EISDIR: return Refusal(status: 400, message: "\(path) is a directory: browse it")
        case EACCES: return Refusal(status: 403, message: "\(path): not readable")
        default: return Refusal(status: 400, message: "\(path): cannot open (\(String(cString: strerror(error))))")
        }
    }

    /// Up to `length` bytes from `offset`; `offset` -1 answers the file's size (Mesos's way to
    /// find the end before following it).
    func read(_ path: String, offset: Int, length: Int?) throws(Refusal) -> Chunk {
        let fd = try open(path, directory: false)
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        let size = Int(info.st_size)
        if offset == -1 { return Chunk(data: "", offset: size) }
        guard offset >= 0 else { throw Refusal(status: 400, message: "offset: 0 or more, or -1 for the size") }
        let want = min(max(0, length ?? Self.maxRead), Self.maxRead, max(0, size - offset))
        var bytes = [UInt8](repeating: 0, count: want)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset)) }
        guard n >= 0 else { throw Refusal(status: 500, message: "\(path): read failed") }
        return Chunk(data: String(decoding: bytes[0..<n], as: UTF8.self), offset: offset)
    }

    /// The directory's entries, as paths the other calls take; links are listed, not followed.
    func browse(_ path: String) throws(Refusal) -> [Entry] {
        let fd = try open(path, directory: true)
        guard let dir = fdopendir(fd) else {
            close(fd)
            throw Refusal(status: 500, message: "\(path): cannot list")
        }
        defer { closedir(dir) }
        let prefix = path.hasSuffix("/") ? path : path + "/"
        var out: [Entry] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != ".." else { continue }
            var info = stat()
            guard fstatat(dirfd(dir), name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            out.append(
                Entry(
                    path: prefix + name, size: Int(info.st_size), mtime: Double(info.st_mtim.tv_sec),
                    mode: Self.mode(info.st_mode)))
        }
        return out.sorted { $0.path < $1.path }
    }

    /// `ls -l`'s first column.
    private static func mode(_ m: mode_t) -> String {
        let kind: Character =
            switch m & S_IFMT {
            case S_IFDIR: "d"
            case S_IFLNK: "l"
            default: "-"
            }
        let bits = "rwxrwxrwx"
        return String(kind) + String(bits.enumerated().map { m & (1 << (8 - $0.offset)) != 0 ? $0.element : "-" })
    }
}

extension SandboxFiles {
    /// `/files/browse?path=`, `/files/read?path=&offset=&length=` (`{data, offset}`), `/files/download?path=`.
    static func serve(_ files: SandboxFiles, on router: Router<BasicRequestContext>) {
        router.get("/files/browse") { request, _ in
            let entries: [Entry]
            do throws(Refusal) { entries = try files.browse(request.uri.queryParameters.get("path") ?? "") } catch {
                throw error.apiError
            }
            return try JSONResponse.make(entries)
        }
        router.get("/files/read") { request, _ in
            let query = request.uri.queryParameters
            guard let offset = Int(query.get("offset") ?? "0") else { throw APIError(status: 400, message: "offset: a number") }
            let length = try query.get("length").map { text throws(APIError) -> Int in
                guard let n = Int(text), n >= 0 else { throw APIError(status: 400, message: "length: a number, 0 or more") }
                return n
            }
            let chunk: Chunk
            do throws(Refusal) { chunk = try files.read(query.get("path") ?? "", offset: offset, length: length) } catch {
                throw error.apiError
            }
            return try JSONResponse.make(chunk)
        }
        router.get("/files/download") { request, _ in
            let path = request.uri.queryParameters.get("path") ?? ""
            let fd: Int32
            do throws(Refusal) { fd = try files.open(path, directory: false) } catch { throw error.apiError }
            let name = path.split(separator: "/").last.map(String.init) ?? "file"
            return Response(
                status: .ok,
                headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\"\(name)\""],
                body: ResponseBody { writer in
                    defer { close(fd) }
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 65536) }
                        guard n > 0 else { break }
                        try await writer.write(ByteBuffer(bytes: buffer[0..<n]))
                    }
                    try await writer.finish(nil)
                })
        }
    }
}
