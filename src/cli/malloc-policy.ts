/**
 * bin/wsbridge starts node with a malloc policy in GLIBC_TUNABLES. glibc has read it by now; giving the
 * user's own value back to process.env keeps it from leaking into the programs and shells wsbridge starts.
 */
const was = process.env.WSBRIDGE_USER_GLIBC_TUNABLES;
if (was !== undefined) {
  if (was.startsWith('=')) process.env.GLIBC_TUNABLES = was.slice(1);
  else delete process.env.GLIBC_TUNABLES;
  delete process.env.WSBRIDGE_USER_GLIBC_TUNABLES;
}
