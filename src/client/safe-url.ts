/** URLs as they may appear in logs and errors: no `token` parameter, no user info. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    if (parsed.searchParams.has('token')) parsed.searchParams.set('token', 'redacted');
    return parsed.toString();
  } catch {
    // Not a URL: say so instead of echoing something that might hold a secret.
    return '<unparseable url>';
  }
}
