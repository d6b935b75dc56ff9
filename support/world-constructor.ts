import { setWorldConstructor } from '@cucumber/cucumber';
import { Phase2World } from '../world/world';

// Registered here, not in world/, so the World can be built outside a Cucumber run (unit tests).
setWorldConstructor(Phase2World);
