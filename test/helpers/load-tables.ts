// Loaded into every test process (.taprc node-arg): the tables are read once, as a role's start-up
// reads them, before any test imports the code that uses them.
import { loadTables } from '../../src/roles/tables.js';

loadTables();
