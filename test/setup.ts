/** Mocha's `require` hook: decorator metadata and chai-as-promised for every spec. */
import 'reflect-metadata';

import * as chai from 'chai';
import chaiAsPromised from 'chai-as-promised';

chai.use(chaiAsPromised);
