// npm run hash-password -- '<password>'   (or the password on stdin)
// Prints a passwordHash for a built-in user in config/auth.yaml (oidcProvider.login.users).
import { hashPassword } from "../src/auth/ui/users.js";

const password = process.argv[2] ?? (await new Response(process.stdin as unknown as ReadableStream).text()).trim();
if (!password) {
  console.error("usage: npm run hash-password -- '<password>'");
  process.exit(2);
}
console.log(await hashPassword(password));
