import type { RuleSpec } from "./rule-spec.js";

/**
 * The rules Berth ships (docs/secret-rules.md lists them). Patterns are JavaScript RegExp sources;
 * the secret is the group named `secret`, else group 1, else the whole match. Keywords are matched
 * case-insensitively against the text before the pattern runs at all, so most chunks cost one
 * `includes` per rule.
 */
export const BUILTIN_RULES: readonly RuleSpec[] = [
  {
    id: "private-key",
    description: "PEM private key (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted or not)",
    kind: "content",
    pattern: String.raw`-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |ANY )?PRIVATE KEY)-----\r?\n(?:[A-Za-z-]+: [^\r\n]*\r?\n)*\r?\n?(?<secret>[A-Za-z0-9+/=]{40,})`,
    keywords: ["private key-----"],
  },
  {
    id: "pgp-private-key",
    description: "PGP private key block",
    kind: "content",
    pattern: String.raw`-----BEGIN PGP PRIVATE KEY BLOCK-----\r?\n(?:[A-Za-z-]+: [^\r\n]*\r?\n)*\r?\n?(?<secret>[A-Za-z0-9+/=]{40,})`,
    keywords: ["pgp private key block"],
  },
  {
    id: "gcp-service-account-key",
    description: "Google Cloud service-account JSON key (private_key)",
    kind: "content",
    pattern: String.raw`"private_key"\s*:\s*"-----BEGIN (?:RSA )?PRIVATE KEY-----\\n(?<secret>[A-Za-z0-9+/=]{40,})`,
    keywords: ['"private_key"'],
  },
  {
    id: "aws-access-key-id",
    description: "AWS access key id",
    kind: "content",
    pattern: String.raw`\b(?<secret>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})\b`,
    keywords: ["akia", "asia", "abia", "acca", "a3t"],
  },
  {
    id: "aws-secret-access-key",
    description: "AWS secret access key",
    kind: "content",
    pattern: String.raw`(?:aws_?secret_?access_?key|aws_?secret_?key|secretaccesskey)["']?\s*[:=]\s*["']?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])`,
    flags: "i",
    keywords: ["secret_access_key", "secretaccesskey", "aws_secret", "awssecret"],
  },
  {
    id: "azure-storage-key",
    description: "Azure storage account key (connection string AccountKey)",
    kind: "content",
    pattern: String.raw`AccountKey=(?<secret>[A-Za-z0-9+/]{86}==)`,
    keywords: ["accountkey="],
  },
  {
    id: "github-token",
    description: "GitHub token (personal, OAuth, user-to-server, server-to-server, refresh)",
    kind: "content",
    pattern: String.raw`\b(?<secret>gh[pousr]_[A-Za-z0-9]{36,255})\b`,
    keywords: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
  },
  {
    id: "github-fine-grained-token",
    description: "GitHub fine-grained personal access token",
    kind: "content",
    pattern: String.raw`\b(?<secret>github_pat_[A-Za-z0-9_]{82})\b`,
    keywords: ["github_pat_"],
  },
  {
    id: "gitlab-token",
    description: "GitLab personal, project or group access token",
    kind: "content",
    pattern: String.raw`\b(?<secret>glpat-[A-Za-z0-9_-]{20,})\b`,
    keywords: ["glpat-"],
  },
  {
    id: "slack-token",
    description: "Slack token (bot, user, app, refresh, workspace)",
    kind: "content",
    pattern: String.raw`\b(?<secret>xox[abprse]-[0-9]{6,}-[A-Za-z0-9-]{10,})`,
    keywords: ["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "xoxe-"],
  },
  {
    id: "slack-webhook",
    description: "Slack incoming webhook URL",
    kind: "content",
    pattern: String.raw`https://hooks\.slack\.com/(?:services|workflows)/(?<secret>T[A-Z0-9]+/[A-Z0-9]+/[A-Za-z0-9]{20,})`,
    keywords: ["hooks.slack.com"],
  },
  {
    id: "npm-token",
    description: "npm access token",
    kind: "content",
    pattern: String.raw`\b(?<secret>npm_[A-Za-z0-9]{36})\b`,
    keywords: ["npm_"],
  },
  {
    id: "pypi-token",
    description: "PyPI upload token",
    kind: "content",
    pattern: String.raw`\b(?<secret>pypi-AgE[A-Za-z0-9_-]{50,})`,
    keywords: ["pypi-age"],
  },
  {
    id: "stripe-key",
    description: "Stripe secret or restricted key",
    kind: "content",
    pattern: String.raw`\b(?<secret>(?:sk|rk)_live_[A-Za-z0-9]{24,})\b`,
    keywords: ["_live_"],
  },
  {
    id: "dockerhub-token",
    description: "Docker Hub personal access token",
    kind: "content",
    pattern: String.raw`\b(?<secret>dckr_pat_[A-Za-z0-9_-]{27,})`,
    keywords: ["dckr_pat_"],
  },
  {
    id: "docker-config-auth",
    description: "Registry credentials in a Docker config.json (auths.*.auth or identitytoken)",
    kind: "content",
    pattern: String.raw`"(?:auth|identitytoken|registrytoken)"\s*:\s*"(?<secret>[A-Za-z0-9+/=._-]{8,})"`,
    paths: ["**/.docker/config.json", "**/.dockercfg", "**/containers/auth.json", "**/docker/config.json"],
    keywords: ['"auth"', '"identitytoken"', '"registrytoken"'],
  },
  {
    id: "npmrc-auth",
    description: "npm registry credentials in .npmrc (_authToken, _auth, _password)",
    kind: "content",
    pattern: String.raw`(?:_authToken|_auth|_password)\s*=\s*["']?(?<secret>[^\s"'$][^\s"']{5,})`,
    paths: ["**/.npmrc", "**/npmrc"],
    keywords: ["_auth", "_password"],
  },
  {
    id: "netrc-password",
    description: "Password in a .netrc file",
    kind: "content",
    pattern: String.raw`\bpassword\s+(?<secret>\S{4,})`,
    paths: ["**/.netrc", "**/_netrc"],
    keywords: ["password"],
  },
  {
    id: "pypirc-password",
    description: "Password or token in a .pypirc file",
    kind: "content",
    pattern: String.raw`^\s*password\s*[:=]\s*(?<secret>\S{4,})`,
    flags: "m",
    paths: ["**/.pypirc"],
    keywords: ["password"],
  },
  {
    id: "kubeconfig-credentials",
    description: "Client key or token in a kubeconfig (a file with kind: Config)",
    kind: "content",
    pattern: String.raw`^\s*(?:client-key-data|token|password)\s*:\s*["']?(?<secret>[A-Za-z0-9+/=._~-]{16,})`,
    flags: "m",
    keywords: ["client-key-data", "token", "password"],
    requires: String.raw`^kind:\s*Config\s*$`,
  },
  {
    id: "dotenv-secret",
    description: "Secret assigned in a .env file (or an image's Env)",
    kind: "content",
    pattern: String.raw`^[ \t]*(?:export[ \t]+)?[A-Za-z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|AUTH_?KEY|CLIENT_?KEY|CREDENTIALS?)[A-Za-z0-9_]*[ \t]*=[ \t]*["']?(?<secret>[^\s"'#]{6,})`,
    flags: "im",
    paths: ["**/.env", "**/.env.*", "**/*.env"],
    keywords: ["secret", "token", "passw", "key", "credential"],
    allow: [String.raw`^/`, String.raw`^(?:true|false|yes|no|on|off|null|none)$`],
  },
  {
    id: "generic-secret-assignment",
    description: "High-entropy value assigned to a secret, token, password or API key",
    kind: "content",
    // Starts at the word itself: a leading name pattern would be retried at every character of every word.
    pattern: String.raw`(?:secret|token|passw(?:or)?d|api[_-]?key)[A-Za-z0-9_.-]{0,40}["']?[ \t]*[:=][ \t]*["']?(?<secret>[A-Za-z0-9/+_=-]{20,})`,
    flags: "i",
    keywords: ["secret", "token", "passw", "api"],
    entropy: 4.0,
  },
  {
    id: "pkcs12-file",
    description: "PKCS#12 or Java keystore file (holds private keys)",
    kind: "path",
    pattern: String.raw`\.(?:p12|pfx|jks|keystore)$`,
    flags: "i",
  },
  {
    id: "git-credentials-file",
    description: "Git credential store file",
    kind: "path",
    pattern: String.raw`(?:^|/)\.git-credentials$`,
  },
];

/**
 * Values that are not secrets whatever the rule: documentation placeholders (`AKIAIOSFODNN7EXAMPLE`),
 * variable references (`${TOKEN}`, `$TOKEN`), masks and the usual stand-ins. A rule's own `allow`
 * adds to these.
 */
export const PLACEHOLDERS: readonly string[] = [
  String.raw`EXAMPLE`,
  String.raw`^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$`,
  String.raw`\$\{[^}]*\}|\{\{[^}]*\}\}|%\([A-Za-z_]+\)s`,
  String.raw`x{4,}|X{4,}|\*{3,}|\.{3,}|0{8,}`,
  String.raw`^<.*>$`,
  String.raw`(?:change[_-]?me|replace[_-]?me|placeholder|your[_-]|dummy|redacted|sample|fake|not[_-]?a[_-]?secret)`,
];
