import { MemoryStore } from "../src/persistence/memory-store.js";
import { describeRunStoreConformance } from "./store-conformance.js";

describeRunStoreConformance("MemoryStore", async () => ({ store: new MemoryStore() }));
