/** Recognises the process (EMFILE) or the system (ENFILE) running out of file descriptors. */
export function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EMFILE' || code === 'ENFILE') return true;
  // Wrapped errors (e.g. LogFailedError) keep the original as their cause.
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return cause !== undefined && cause !== error && isOutOfDescriptors(cause);
}
