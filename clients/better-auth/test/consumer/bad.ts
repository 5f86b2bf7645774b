// Must NOT compile: proves the check above can fail.
import { authstore } from "@authstore/better-auth";
const { secondaryStorage } = authstore({});
void secondaryStorage.set("k", 42);
void authstore({ schema: 1 });
