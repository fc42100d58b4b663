import Crypto
import Foundation
import HummingbirdBcrypt
import PacerModel
import Yams

/// The framework's principals (`--principals FILE`): who may call the API and as what. Secrets are
/// stored hashed only — a password as bcrypt (`pacer principal hash-password`), a bearer token as
/// its SHA-256 (`pacer principal new-token`) — so the file leaks nothing that logs in.
///
/// ```yaml
/// principals:
///   - {name: ops, role: admin, password_bcrypt: "$2b$12$..."}
///   - {name: team-a-ci, role: deployer, paths: [/team-a], token_sha256: "9f86d0…"}
///   - {name: grafana, role: viewer, password_bcrypt: "$2b$12$..."}
///   - {name: lb-1, role: loadbalancer, password_bcrypt: "$2b$12$..."}
/// ```
public struct Principals: Sendable {
    public struct Entry: Sendable {
        public var principal: Principal
        var passwordBcrypt: String?
        var tokenSHA256: [UInt8]?
    }

    public private(set) var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Marathon's `--http-credentials user:password`: one admin, its password kept as bcrypt.
    public static func single(_ credentials: String) -> Entry {
        let (user, password) =
            credentials.firstIndex(of: ":").map {
                (String(credentials[..<$0]), String(credentials[credentials.index(after: $0)...]))
            } ?? (credentials, "")
        return Entry(principal: .admin(user), passwordBcrypt: Bcrypt.hash(password, cost: 8), tokenSHA256: nil)
    }

    /// A principal whose one secret works as a bearer token and as the password of HTTP Basic
    /// alike (`pacer up --secure`'s admin: `Authorization: Bearer TOKEN` and `https://admin:TOKEN@…`,
    /// so clients that only know addresses with credentials work too).
    public static func secret(_ principal: Principal, _ secret: String) -> Entry {
        Entry(
            principal: principal, passwordBcrypt: Bcrypt.hash(secret, cost: 8),
            tokenSHA256: Array(SHA256.hash(data: Array(secret.utf8))))
    }

    public mutating func add(_ entry: Entry) { entries.append(entry) }

    public struct FileError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a principals file; every mistake names the entry and what to fix.
    public static func load(_ path: String) throws(FileError) -> Principals {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FileError(description: "\(path): cannot read it (\(error.localizedDescription))")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(FileError) -> Principals {
        struct File: Decodable { var principals: [Raw] }
        struct Raw: Decodable {
            var name: String
            var role: String
            var paths: [String]?
            var password_bcrypt: String?
            var token_sha256: String?
        }
        let file: File
        do { file = try YAMLDecoder().decode(File.self, from: text) } catch {
            throw FileError(description: "\(source): not a principals file (\(error)); see docs/OPERATIONS.md, Access")
        }
        var out = Principals(entries: [])
        var names = Set<String>()
        for (i, raw) in file.principals.enumerated() {
            let at = "\(source): principal \(i + 1) (\(raw.name))"
            guard !raw.name.isEmpty, !raw.name.contains(":"), names.insert(raw.name).inserted else {
                throw FileError(description: "\(at): names must be unique, non-empty and without ':'")
            }
            guard let role = Principal.Role(rawValue: raw.role) else {
                let roles = Principal.Role.allCases.map(\.rawValue).joined(separator: ", ")
                throw FileError(description: "\(at): role '\(raw.role)' is not one of \(roles)")
            }
            var paths: [PathId] = []
            for p in raw.paths ?? [] {
                do { paths.append(try PathId(validating: p)) } catch {
                    throw FileError(description: "\(at): path '\(p)' is not an app or group path: \(error)")
                }
            }
            if role == .deployer && paths.isEmpty { throw FileError(description: "\(at): a deployer needs paths") }
            if role != .deployer && !paths.isEmpty { throw FileError(description: "\(at): only deployers have paths") }
            if let hash = raw.password_bcrypt, !hash.hasPrefix("$2") {
                throw FileError(description: "\(at): password_bcrypt must be a bcrypt hash (pacer principal hash-password)")
            }
            var token: [UInt8]?
            if let hex = raw.token_sha256 {
                guard let bytes = Self.bytes(hex: hex), bytes.count == 32 else {
                    throw FileError(description: "\(at): token_sha256 must be 64 hex digits (pacer principal new-token)")
                }
                token = bytes
            }
            guard raw.password_bcrypt != nil || token != nil else {
                throw FileError(description: "\(at): give it password_bcrypt or token_sha256 (or both)")
            }
            out.add(
                Entry(
                    principal: Principal(name: raw.name, role: role, paths: paths), passwordBcrypt: raw.password_bcrypt,
                    tokenSHA256: token))
        }
        return out
    }

    /// Who an `Authorization` header names, or nil. A password costs a bcrypt verification
    /// (tens of milliseconds by design), so `Authenticator` remembers headers that verified.
    func verify(_ credential: Credential) -> Principal? {
        switch credential {
        case .basic(let user, let password):
            guard let e = entries.first(where: { $0.principal.name == user }), let hash = e.passwordBcrypt else { return nil }
            return Bcrypt.verify(password, hash: hash) ? e.principal : nil
        case .bearer(let token):
            let digest = Array(SHA256.hash(data: Array(token.utf8)))
            // Every entry is compared, whatever matched: the time says nothing about which.
            var found: Principal?
            for e in entries {
                if let t = e.tokenSHA256, ConstantTime.equal(digest, t) { found = e.principal }
            }
            return found
        }
    }

    public enum Credential: Sendable, Equatable {
        case basic(user: String, password: String)
        case bearer(String)

        /// Parses an `Authorization` header; nil when it is neither Basic nor Bearer.
        public init?(header: String) {
            guard header.utf8.count < 4096 else { return nil }
            let lower = header.lowercased()
            if lower.hasPrefix("bearer ") {
                let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
                guard !token.isEmpty else { return nil }
                self = .bearer(token)
            } else if lower.hasPrefix("basic "),
                let data = Data(base64Encoded: header.dropFirst(6).trimmingCharacters(in: .whitespaces)),
                let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            {
                self = .basic(user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            } else {
                return nil
            }
        }
    }

    /// A new bearer token and the digest to put in the file.
    public static func newToken() -> (token: String, sha256: String) {
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return (token, hex(Array(SHA256.hash(data: Array(token.utf8)))))
    }

    /// `cost`: bcrypt's work factor (2^cost rounds); 12 takes a few hundred milliseconds.
    public static func hashPassword(_ password: String, cost: UInt8 = 12) -> String { Bcrypt.hash(password, cost: cost) }

    /// The token_sha256 of a given token (hex).
    public static func newTokenDigest(_ token: String) -> String { hex(Array(SHA256.hash(data: Array(token.utf8)))) }

    public static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    public static func bytes(hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: chars.count, by: 2) {
            guard let b = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }
}
