/** A sidecar config that parsed but cannot be used (a secret file that cannot be read, an empty token file). */
export class SidecarConfigError extends Error {
  override readonly name = 'SidecarConfigError';
}
