import { expect } from 'chai';
import {
  BuiltInFields, type CustomAttributeDefinition, isCalendarDate, sourceRank, validateEmails, validateProfileValues,
} from '../../workflows/profile-schema';

describe('profile schema rules', () => {
  describe('the built-in fields', () => {
    it('should be the 28 employment fields, each once', () => {
      expect(BuiltInFields).to.have.length(28);
      expect(new Set(BuiltInFields.map((f) => f.key)).size).to.equal(28);
    });
  });

  describe('validateProfileValues', () => {
    it('should normalise valid values and name every invalid one', () => {
      const custom: CustomAttributeDefinition[] = [{
        id: 'x', key: 'grade', label: 'Grade', type: 'number', required: true, mutability: 'admin_editable', enumValues: null, pattern: null, min: 1, max: 10, description: null,
      }];
      const { values, errors } = validateProfileValues({
        workEmail: ' Ada@Acme.TEST ', workCountry: 'gb', employmentStatus: 'ACTIVE', fte: '1', jobTitle: '', grade: '7',
        startDate: '2026-13-01', manager: 'not-a-uuid', grade2: 1,
      }, custom);
      expect(values).to.deep.equal({ workEmail: 'ada@acme.test', workCountry: 'GB', employmentStatus: 'active', fte: 1, jobTitle: null, grade: 7 });
      expect(errors.map((e) => e.attribute)).to.deep.equal(['grade2', 'manager', 'startDate']);
      expect(validateProfileValues({ grade: null }, custom).errors[0]?.reason).to.match(/required/);
    });

    it('should accept only real calendar dates', () => {
      expect(isCalendarDate('2028-02-29')).to.equal(true);
      expect(isCalendarDate('2027-02-29')).to.equal(false);
      expect(isCalendarDate('2027-2-1')).to.equal(false);
    });
  });

  describe('validateEmails', () => {
    it('should need exactly one primary and no duplicates', () => {
      expect(validateEmails([]).emails).to.deep.equal([]);
      expect(validateEmails([{ type: 'work', value: 'a@b.test', primary: true }, { type: 'home', value: 'A@b.test', primary: false }]).errors[0]?.reason).to.equal('is listed twice');
      expect(validateEmails([{ type: 'pager', value: 'a@b.test', primary: true }]).errors[0]?.attribute).to.equal('emails[0].type');
    });
  });

  describe('sourceRank', () => {
    it('should rank by position, unlisted sources last', () => {
      expect(sourceRank(['scim', 'hr_connector'], 'hr_connector')).to.equal(1);
      expect(sourceRank(['scim'], 'manual')).to.equal(1);
    });
  });
});
