import ArgumentParser
import Foundation
import PacerServerKit

/// `pacer principal …`: the hashed secrets a principals file (`pacer framework --principals`) holds.
struct PrincipalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "principal", abstract: "Make secrets for a principals file (docs/OPERATIONS.md, Access).",
        subcommands: [HashPassword.self, NewToken.self])

    struct HashPassword: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a password from standard input (one line) and print its bcrypt hash for password_bcrypt.")

        func run() throws {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("give the password on standard input, e.g. `pacer principal hash-password < file`")
            }
            print(Principals.hashPassword(line))
        }
    }

    struct NewToken: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random bearer token (give it to the client) and its token_sha256 (put it in the file).")

        func run() {
            let (token, digest) = Principals.newToken()
            print("token: \(token)\ntoken_sha256: \(digest)")
        }
    }
}
